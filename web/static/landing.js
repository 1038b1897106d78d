// The landing page of link mode (README.md, "QR modes"): the login code's
// URL opened by something other than WeChat (a phone's camera app, a
// browser). It says to scan with WeChat and offers "open in WeChat" (the
// scene's URL Link), which on a phone is the way in.
import { api } from './api.js';
import { applyText, pickLang } from './i18n.js';
import { TEXT } from './locales.js';

const lang = pickLang();
const t = TEXT.landing[lang];
const $ = (id) => document.getElementById(id);
const SCENE = /^[0-9a-f]{32}$/;

// The scene is the URL's last path segment (prefix ending in /) or a query
// value (prefix ending in =).
function sceneOf(loc) {
  const last = loc.pathname.split('/').pop();
  if (SCENE.test(last)) return last;
  for (const v of new URLSearchParams(loc.search).values()) if (SCENE.test(v)) return v;
  return '';
}

function main() {
  applyText(t, lang);
  document.title = t.title;
  const scene = sceneOf(location);
  document.body.dataset.scene = scene;
  if (!scene) {
    $('landing-lead').textContent = t.invalid;
    return;
  }
  const qr = $('landing-qr');
  qr.alt = t.qrAlt;
  // A finished or unknown code has no image: say nothing rather than show
  // a broken one.
  qr.addEventListener('error', () => { qr.hidden = true; }, { once: true });
  qr.addEventListener('load', () => { qr.hidden = false; document.body.dataset.qr = 'shown'; }, { once: true });
  qr.src = `/api/v1/qr/${scene}/image`;
  const ua = navigator.userAgent;
  const onPhone = globalThis.ScanLogin ? globalThis.ScanLogin.device(ua, navigator.maxTouchPoints) : { mobile: /Mobile|Android|iPhone/.test(ua), wechat: /MicroMessenger/.test(ua) };
  $('landing-phone').hidden = false;
  if (onPhone.wechat) $('landing-phone').textContent = t.inWeChat;
  const open = $('landing-open');
  open.href = `/api/v1/qr/${scene}/link`;
  open.hidden = false;
  api('GET', '/api/v1/config').then((cfg) => {
    if (cfg && cfg.dev_mode) {
      $('landing-sim').href = '/dev/phone?scene=' + scene;
      $('landing-dev').hidden = false;
    }
  }).catch(() => {});
}

main();
