// The login page: the widget while signed out, the user from /api/v1/me
// while signed in. The access token is kept in this module's memory only.
import { api } from './api.js';
import { applyText as fill, pickLang } from './i18n.js';
import { TEXT, siteLabel } from './locales.js';

const ScanLogin = globalThis.ScanLogin;

const locale = pickLang();
const t = TEXT.page[locale];
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
// An OpenID Connect sign-in (docs/OIDC.md): the provider sent the browser
// here with its authorization request ID; after the redeem the browser goes
// back to the provider, which returns it to the application.
const oidcRequest = params.get('oidc');
let clientName = '';

let session = null; // {access_token, ...} from redeem; memory only
let widget = null;
let siteName = '';

function applyText() {
  fill(t, locale);
  $('site-name').textContent = siteLabel(siteName, t);
  if (clientName) $('login-title').textContent = t.signInTo(clientName);
  for (const a of document.querySelectorAll('.langs a')) {
    a.setAttribute('aria-current', String(a.dataset.lang === locale));
    // Only the language changes: an OpenID sign-in's ?oidc= stays, or the
    // browser would never go back to the application.
    const q = new URLSearchParams(location.search);
    q.delete('ui_locales');
    q.set('lang', a.dataset.lang);
    a.setAttribute('href', '?' + q.toString());
  }
  document.title = `${t.title} · ${siteLabel(siteName, t)}`;
}

function say(text) {
  $('page-status').textContent = text;
}

function showLogin(focus) {
  $('user-view').hidden = true;
  $('login-view').hidden = false;
  if (widget) widget.destroy();
  widget = ScanLogin.mount($('scanlogin'), {
    lang: locale,
    baseURL: location.origin,
    onSuccess: async (result) => {
      if (oidcRequest) {
        say(t.continuing);
        location.replace('/oidc/login?id=' + encodeURIComponent(oidcRequest));
        return;
      }
      session = result;
      try {
        await showUser(await api('GET', '/api/v1/me', { token: session.access_token }));
      } catch {
        // The redeem answer carries the user too; show it rather than fail.
        await showUser(result.user || {});
      }
    },
    onState: ({ scene }) => {
      if (scene) $('phone-link').href = '/dev/phone?scene=' + encodeURIComponent(scene);
    },
  });
  if (focus) $('login-title').focus();
}

function showUser(user) {
  if (widget) {
    widget.destroy();
    widget = null;
  }
  const name = user.nickname || t.unnamed;
  const pic = $('user-picture');
  const initial = () => {
    const span = Object.assign(document.createElement('span'), { className: 'initial-lg', textContent: Array.from(name)[0].toUpperCase() });
    span.setAttribute('role', 'img');
    span.setAttribute('aria-label', t.avatarAlt(name));
    return span;
  };
  if (user.avatar_url) {
    const img = Object.assign(document.createElement('img'), { className: 'avatar-lg', src: user.avatar_url, alt: t.avatarAlt(name), width: 96, height: 96 });
    img.addEventListener('error', () => img.replaceWith(initial()), { once: true });
    pic.replaceChildren(img);
  } else {
    pic.replaceChildren(initial());
  }
  $('user-name').textContent = name;
  $('user-id').textContent = user.id || '';
  $('user-since').textContent = new Date().toLocaleString(locale === 'zh' ? 'zh-CN' : 'en');
  $('user-view').dataset.userId = user.id || '';
  $('login-view').hidden = true;
  $('user-view').hidden = false;
  document.body.dataset.view = 'user';
  $('user-title').focus();
  say(t.welcome(name));
}

async function logout() {
  const button = $('logout');
  button.disabled = true;
  say(t.signingOut);
  try {
    await api('POST', '/api/v1/session/logout', { token: session && session.access_token });
  } catch (err) {
    // 401: the session is already gone, which is what signing out wants.
    if (err.status !== 401) {
      button.disabled = false;
      say(t.signOutFailed);
      return;
    }
  } finally {
    session = null;
  }
  button.disabled = false;
  document.body.dataset.view = 'login';
  showLogin(true);
  say(t.signedOut);
}

async function main() {
  applyText();
  $('logout').addEventListener('click', logout);
  api('GET', '/api/v1/config').then((cfg) => {
    if (!cfg) return;
    siteName = cfg.site_name || '';
    $('dev-link').hidden = !cfg.dev_mode;
    $('rp-link').hidden = !cfg.dev_mode || Boolean(oidcRequest);
    applyText();
  }).catch(() => {});
  if (oidcRequest) {
    // The provider sends a browser here only when it must scan (no
    // session, or the application asked for a fresh sign-in).
    api('GET', '/oidc/login/info?id=' + encodeURIComponent(oidcRequest)).then((info) => {
      if (info && info.client_name) {
        clientName = info.client_name;
        applyText();
      }
    }).catch(() => {});
    document.body.dataset.view = 'login';
    showLogin(false);
    return;
  }
  // A session cookie from an earlier visit: no need to scan again.
  try {
    const me = await api('GET', '/api/v1/me');
    if (me && me.id) return showUser(me);
  } catch {
    // Not signed in (401) or the server is unreachable: the widget retries.
  }
  document.body.dataset.view = 'login';
  showLogin(false);
}

main();
