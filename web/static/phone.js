// The dev-mode phone simulator: plays the mini-program's confirm page in a
// browser. It logs in as a test WeChat user through the fake WeChat
// (/dev/wechat/login mints what wx.login would give), scans the scene, shows
// what the real confirm page shows, and confirms or declines. The mp token is
// kept in memory only; the last chosen test user (not a secret) is remembered.
import { api } from './api.js';
import { applyText as fill, pickLang } from './i18n.js';
import { TEXT, siteLabel } from './locales.js';

const TEST_USERS = [
  { openid: 'test-alice', nickname: 'Alice' },
  { openid: 'test-bob', nickname: 'Bob' },
  { openid: 'test-xiaoming', nickname: '小明' },
];

const ICONS = {
  ok: '<svg viewBox="0 0 24 24" fill="none" stroke="#067a38" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><circle cx="12" cy="12" r="10"/><path d="m7 12.5 3 3 7-7"/></svg>',
  no: '<svg viewBox="0 0 24 24" fill="none" stroke="#57606a" stroke-width="2" stroke-linecap="round"><circle cx="12" cy="12" r="10"/><path d="m8 8 8 8M16 8l-8 8"/></svg>',
  bad: '<svg viewBox="0 0 24 24" fill="none" stroke="#b42318" stroke-width="2" stroke-linecap="round"><circle cx="12" cy="12" r="10"/><path d="M12 7v6M12 16.5v.01"/></svg>',
};

const params = new URLSearchParams(location.search);
const lang = pickLang(params);
// A URL Link ("Open in WeChat") opens the confirm page with via=link: the
// browser asking is on this phone, and the page says so (README.md, "Open
// in WeChat"), as the mini-program does.
const viaLink = params.get('via') === 'link';
const base = TEXT.phone[lang];
const t = viaLink ? { ...base, ...base.link, errors: { ...base.errors, ...base.link.errors } } : base;
const $ = (id) => document.getElementById(id);
const STORE = 'scanlogin.phone.user';

let scene = params.get('scene') || '';
let siteName = '';
let mpToken = null; // memory only
let me = null;
let request = null; // the scan answer
let pick = '';
let timer = null;

function message(err) {
  if (err.code === 'network') return t.network;
  return t.errors[err.code] || t.generic;
}

function say(text) {
  $('status').textContent = text || '';
}

function step(name) {
  for (const s of ['scene', 'user', 'confirm', 'result']) $('step-' + s).hidden = s !== name;
  document.body.dataset.step = name;
  const h = $('step-' + name).querySelector('h1');
  if (h) h.focus();
}

function initial(name) {
  const s = document.createElement('span');
  s.className = 'initial-sm';
  s.setAttribute('aria-hidden', 'true');
  s.textContent = Array.from(name || '?')[0].toUpperCase();
  return s;
}

function applyText() {
  fill(t, lang);
  $('nav-title').textContent = siteLabel(siteName, t);
  document.title = `${siteLabel(siteName, t)} · ${t.simulated}`;
}

function renderUsers() {
  const list = $('user-list');
  const saved = JSON.parse(localStorage.getItem(STORE) || 'null');
  const users = [...TEST_USERS];
  if (saved && saved.openid && !users.some((u) => u.openid === saved.openid)) users.unshift(saved);
  list.replaceChildren(...users.map((u, i) => {
    const label = document.createElement('label');
    label.className = 'user-opt';
    const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'user', value: u.openid });
    input.dataset.nickname = u.nickname;
    input.checked = saved ? saved.openid === u.openid : i === 0;
    const who = document.createElement('span');
    who.className = 'who';
    const b = document.createElement('b');
    b.textContent = u.nickname;
    const small = document.createElement('small');
    small.textContent = 'OpenID ' + u.openid;
    who.append(b, small);
    label.append(input, initial(u.nickname), who);
    return label;
  }));
  const form = $('user-form');
  form.addEventListener('change', () => {
    $('custom').hidden = form.elements.user.value !== 'custom';
  });
}

function chosenUser() {
  const form = $('user-form');
  const v = form.elements.user.value;
  if (v !== 'custom') {
    const input = form.querySelector(`input[name=user][value="${CSS.escape(v)}"]`);
    return { openid: v, nickname: input ? input.dataset.nickname : '' };
  }
  const openid = $('openid').value.trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(openid)) return null;
  return { openid, nickname: $('nickname').value.trim() };
}

// What the mini-program does: wx.login -> /mp/login, set the nickname the
// user chose, then scan the scene from the code's launch parameters.
async function scanAs(user) {
  const { code } = await api('POST', '/dev/wechat/login', { body: { openid: user.openid, nickname: user.nickname || undefined } });
  const login = await api('POST', '/api/v1/mp/login', { body: { code } });
  mpToken = login.token;
  me = login.user || {};
  if (user.nickname && me.nickname !== user.nickname) {
    me = await api('PUT', '/api/v1/mp/me', { body: { nickname: user.nickname }, token: mpToken });
  }
  return api('POST', `/api/v1/qr/${encodeURIComponent(scene)}/scan`, { body: {}, token: mpToken });
}

function showRequest(r) {
  request = r;
  const site = siteLabel((r.site && r.site.name) || siteName, t);
  const b = r.browser || {};
  $('me-pic').replaceChildren(initial(me.nickname || 'W'));
  $('me-name').textContent = me.nickname || me.id || '';
  $('confirm-title').textContent = t.confirmTitle(site);
  $('req-ip').textContent = b.ip || '?';
  // The server names the browser once for every client (server/useragent.go).
  $('req-browser').textContent = b.label || t.unknownBrowser;
  $('warning-text').textContent = t.warning(site);
  const created = b.created_at ? new Date(b.created_at) : null;
  const choices = Array.isArray(r.match_choices) ? r.match_choices : [];
  pick = '';
  $('match').hidden = choices.length === 0;
  $('choices').replaceChildren(...choices.map((c) => {
    const btn = Object.assign(document.createElement('button'), { type: 'button', textContent: c });
    btn.setAttribute('role', 'radio');
    btn.setAttribute('aria-checked', 'false');
    btn.dataset.code = c;
    btn.addEventListener('click', () => {
      pick = c;
      for (const o of $('choices').children) o.setAttribute('aria-checked', String(o === btn));
      say('');
    });
    return btn;
  }));
  $('choices').setAttribute('role', 'radiogroup');
  const deadline = Date.now() + (Number(r.expires_in) || 60) * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    $('countdown').textContent = t.expiresIn(left);
    if (created && !Number.isNaN(created.getTime())) {
      const ago = Math.max(0, Math.round((Date.now() - created.getTime()) / 1000));
      $('req-time').textContent = t.at(created.toLocaleTimeString(lang === 'zh' ? 'zh-CN' : 'en'), t.ago(ago));
    } else {
      $('req-time').textContent = '?';
    }
    if (left === 0) result('bad', t.failedTitle, t.errors.scene_expired, 'expired');
  };
  clearInterval(timer);
  timer = setInterval(tick, 1000);
  tick();
  step('confirm');
}

function result(icon, title, text, outcome) {
  clearInterval(timer);
  $('result-icon').innerHTML = ICONS[icon];
  $('result-title').textContent = title;
  $('result-text').textContent = text;
  document.body.dataset.result = outcome;
  // A failed or expired code is done with; another one may work.
  $('again').hidden = outcome !== 'error' && outcome !== 'expired';
  say('');
  step('result');
}

async function act(kind) {
  const confirm = kind === 'confirm';
  if (confirm && request.match_choices && request.match_choices.length && !pick) {
    say(t.pickFirst);
    $('choices').firstElementChild.focus();
    return;
  }
  for (const b of [$('confirm'), $('decline')]) b.disabled = true;
  say(confirm ? t.confirming : t.declining);
  try {
    await api('POST', `/api/v1/qr/${encodeURIComponent(scene)}/${confirm ? 'confirm' : 'cancel'}`,
      { body: confirm && pick ? { match_code: pick } : {}, token: mpToken });
    if (confirm) result('ok', t.doneTitle, t.doneText, 'confirmed');
    else result('no', t.declinedTitle, t.declinedText, 'declined');
  } catch (err) {
    if (err.status === 0 || err.status === 429 || err.status >= 500) {
      say(message(err)); // nothing changed: let the user try again
    } else {
      result('bad', t.failedTitle, message(err), 'error');
    }
  } finally {
    for (const b of [$('confirm'), $('decline')]) b.disabled = false;
  }
}

async function main() {
  applyText();
  api('GET', '/api/v1/config').then((cfg) => {
    if (cfg && cfg.site_name) {
      siteName = cfg.site_name;
      applyText();
    }
  }).catch(() => {});
  renderUsers();

  $('scene-form').addEventListener('submit', (e) => {
    e.preventDefault();
    scene = $('scene-input').value.trim().toLowerCase();
    params.set('scene', scene);
    history.replaceState(null, '', '?' + params);
    step('user');
  });
  $('user-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = chosenUser();
    if (!user) {
      say(t.invalidUser);
      $('openid').focus();
      return;
    }
    localStorage.setItem(STORE, JSON.stringify(user));
    const button = $('scan-button');
    button.disabled = true;
    say(t.scanning);
    try {
      showRequest(await scanAs(user));
      say('');
    } catch (err) {
      if (err.status === 0 || err.status === 429 || err.status >= 500 || err.code === 'invalid_code') say(message(err));
      else result('bad', t.failedTitle, message(err), 'error');
    } finally {
      button.disabled = false;
    }
  });
  $('confirm').addEventListener('click', () => act('confirm'));
  $('decline').addEventListener('click', () => act('decline'));
  $('again').addEventListener('click', () => {
    delete document.body.dataset.result;
    $('scene-input').value = '';
    step('scene');
  });

  step(/^[0-9a-f]{32}$/.test(scene) ? 'user' : 'scene');
}

main();
