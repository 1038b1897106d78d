// A small user-agent parser for the confirm page: enough to tell a person
// "Chrome 124 on Windows" about the browser that asked to sign in. It is a
// hint for a human, never a security decision.

const BROWSERS = [
  // Order matters: most UAs also claim to be Safari, Chrome or Mozilla.
  ['WeChat', /MicroMessenger\/([\d.]+)/],
  ['Edge', /Edg(?:e|A|iOS)?\/([\d.]+)/],
  ['Opera', /(?:OPR|Opera)\/([\d.]+)/],
  ['Samsung Internet', /SamsungBrowser\/([\d.]+)/],
  ['UC Browser', /UCBrowser\/([\d.]+)/],
  ['QQ Browser', /MQQBrowser\/([\d.]+)|QQBrowser\/([\d.]+)/],
  ['Firefox', /(?:Firefox|FxiOS)\/([\d.]+)/],
  ['Chrome (headless)', /HeadlessChrome\/([\d.]+)/],
  ['Chrome', /(?:Chrome|CriOS)\/([\d.]+)/],
  ['Safari', /Version\/([\d.]+).*Safari\//],
];

const WINDOWS = { '10.0': '10/11', '6.3': '8.1', '6.2': '8', '6.1': '7' };

function os(ua) {
  let m;
  if ((m = ua.match(/Windows NT ([\d.]+)/))) return 'Windows' + (WINDOWS[m[1]] ? ' ' + WINDOWS[m[1]] : '');
  if ((m = ua.match(/iPhone OS (\d+)/))) return 'iOS ' + m[1];
  if ((m = ua.match(/iPad.*? OS (\d+)/))) return 'iPadOS ' + m[1];
  if ((m = ua.match(/Android (\d+(?:\.\d+)?)/))) return 'Android ' + m[1];
  if (/Android/.test(ua)) return 'Android';
  if (/CrOS/.test(ua)) return 'ChromeOS';
  if (/HarmonyOS/.test(ua)) return 'HarmonyOS';
  if ((m = ua.match(/Mac OS X (\d+)[._](\d+)/))) return 'macOS';
  if (/Linux/.test(ua)) return 'Linux';
  return '';
}

/** parseUserAgent('Mozilla/5.0 (...) Chrome/124.0 ...') -> {browser:'Chrome', version:'124', os:'Windows 10/11'} */
export function parseUserAgent(ua) {
  ua = String(ua || '');
  let browser = '';
  let version = '';
  for (const [name, re] of BROWSERS) {
    const m = ua.match(re);
    if (m) {
      browser = name;
      version = (m[1] || m[2] || '').split('.')[0];
      break;
    }
  }
  return { browser, version, os: os(ua) };
}

/** describeUserAgent(ua, 'en') -> "Chrome 124 on Windows 10/11"; '' when unknown. */
export function describeUserAgent(ua, locale = 'en') {
  const p = parseUserAgent(ua);
  const b = [p.browser, p.version].filter(Boolean).join(' ');
  if (!b && !p.os) return '';
  if (!p.os) return b;
  if (!b) return p.os;
  return locale === 'zh' ? `${p.os} 上的 ${b}` : `${b} on ${p.os}`;
}
