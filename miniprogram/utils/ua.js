// Turns a browser's User-Agent into the words a person recognises
// ("Chrome 120", "Windows 10/11") for the confirm page and the session list.
// Order matters: Edge and Opera also claim to be Chrome, Chrome claims to be
// Safari, and in-app browsers claim to be everything.
const BROWSERS = [
  [/MicroMessenger\/([\d.]+)/, 'WeChat'],
  [/DingTalk\/([\d.]+)/, 'DingTalk'],
  [/Edg(?:e|A|iOS)?\/([\d.]+)/, 'Edge'],
  [/(?:OPR|Opera)\/([\d.]+)/, 'Opera'],
  [/SamsungBrowser\/([\d.]+)/, 'Samsung Internet'],
  [/UCBrowser\/([\d.]+)/, 'UC Browser'],
  [/QQBrowser\/([\d.]+)/, 'QQ Browser'],
  [/Firefox\/([\d.]+)/, 'Firefox'],
  [/FxiOS\/([\d.]+)/, 'Firefox'],
  [/CriOS\/([\d.]+)/, 'Chrome'],
  [/HeadlessChrome\/([\d.]+)/, 'Headless Chrome'],
  [/Chrome\/([\d.]+)/, 'Chrome'],
  [/Chromium\/([\d.]+)/, 'Chromium'],
  [/Version\/([\d.]+).*Safari\//, 'Safari'],
  [/curl\/([\d.]+)/, 'curl']
]

function major (v) {
  return String(v || '').split('.')[0]
}

function browserOf (ua) {
  for (const [re, name] of BROWSERS) {
    const m = ua.match(re)
    if (m) return name + (m[1] ? ' ' + major(m[1]) : '')
  }
  return ''
}

function osOf (ua) {
  let m
  if ((m = ua.match(/Windows NT ([\d.]+)/))) {
    const v = { '10.0': '10/11', '6.3': '8.1', '6.2': '8', '6.1': '7', '6.0': 'Vista', '5.1': 'XP' }[m[1]]
    return 'Windows' + (v ? ' ' + v : '')
  }
  if ((m = ua.match(/(?:iPhone|CPU) OS ([\d_]+)/))) return 'iOS ' + m[1].split('_')[0]
  if (/iPad/.test(ua)) return 'iPadOS'
  if ((m = ua.match(/Android ([\d.]+)/))) return 'Android ' + major(m[1])
  if (/Android/.test(ua)) return 'Android'
  if ((m = ua.match(/Mac OS X ([\d_.]+)/))) return 'macOS ' + m[1].replace(/_/g, '.').split('.').slice(0, 2).join('.')
  if (/Macintosh/.test(ua)) return 'macOS'
  if (/CrOS/.test(ua)) return 'ChromeOS'
  if (/HarmonyOS/.test(ua)) return 'HarmonyOS'
  if (/Linux/.test(ua)) return 'Linux'
  return ''
}

// parse returns {browser, os}; unknown parts read "Unknown browser" /
// "Unknown system" so the page never shows an empty line.
function parse (ua) {
  ua = String(ua || '')
  return {
    browser: browserOf(ua) || 'Unknown browser',
    os: osOf(ua) || 'Unknown system'
  }
}

module.exports = { parse }
