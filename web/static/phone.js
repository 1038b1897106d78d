// The dev-mode phone simulator: plays the mini-program's confirm page in a
// browser. It logs in as a test WeChat user through the fake WeChat
// (/dev/wechat/login mints what wx.login would give), scans the scene, shows
// what the real confirm page shows, and confirms or declines. The mp token is
// kept in memory only; the last chosen test user (not a secret) is remembered.
import { api } from './api.js';

const TEXT = {
  en: {
    simulated: 'Simulated mini-program (dev mode)', sceneTitle: 'Which code?',
    sceneLead: 'Paste the scene of the login code. Scanning the code with a phone camera opens this page with it filled in.',
    sceneLabel: 'Scene', continue: 'Continue', userTitle: 'Who is scanning?',
    userLead: 'This page plays the WeChat mini-program. Pick the test WeChat user who scanned the code.',
    someoneElse: 'Someone else', nickname: 'Nickname', scan: 'Scan the code', scanning: 'Scanning…',
    signingInAs: 'Signing in as', confirmTitle: (site) => `Sign in to ${site} on a computer?`,
    ip: 'Browser IP', browser: 'Browser', time: 'Requested',
    warning: (site) => `Only confirm a login code that is on a screen you are looking at right now. ${site} never sends login codes by message or email: if someone sent you this code, tap Decline.`,
    matchLegend: 'Choose the number shown on the computer screen', pickFirst: 'Choose the number shown on the computer first.',
    expiresIn: (s) => `This request expires in ${s} s`, decline: 'Decline', confirm: 'Confirm',
    confirming: 'Confirming…', declining: 'Declining…', again: 'Enter another code',
    doneTitle: 'Signed in on the computer', doneText: 'You can go back to the computer now.',
    declinedTitle: 'Login declined', declinedText: 'Nobody was signed in.',
    failedTitle: 'Could not sign in', unknownBrowser: 'Unknown browser', ago: (s) => s < 5 ? 'just now' : `${s} s ago`,
    invalidUser: 'Enter an OpenID of letters, digits, _ or -.', network: 'Network problem. Check the connection and try again.',
    errors: {
      already_scanned: 'Someone else has already scanned this code.',
      scene_expired: 'This code has expired. Get a new one on the computer and scan again.',
      scene_final: 'This code has already been used or cancelled.',
      scene_not_found: 'This code is unknown or too old. Get a new one on the computer.',
      not_scanner: 'This code was scanned by another WeChat user.',
      not_scanned: 'Scan the code before confirming.',
      match_mismatch: 'That number did not match the computer. The login was cancelled to keep you safe.',
      rate_limited: 'Too many attempts. Wait a moment and try again.',
      invalid_code: 'WeChat login failed. Try again.',
      wechat_unavailable: 'WeChat is not answering. Try again in a moment.',
      unavailable: 'The service is busy. Try again in a moment.',
      overloaded: 'The service is busy. Try again in a moment.',
    },
    generic: 'Something went wrong. Try again.',
  },
  zh: {
    simulated: '模拟小程序（开发模式）', sceneTitle: '要扫哪个码？',
    sceneLead: '粘贴登录码的 scene。用手机相机扫描电脑上的码会直接带着它打开本页面。',
    sceneLabel: 'Scene', continue: '继续', userTitle: '谁在扫码？',
    userLead: '本页面模拟微信小程序。请选择扫码的测试微信用户。',
    someoneElse: '其他用户', nickname: '昵称', scan: '扫码', scanning: '正在扫码…',
    signingInAs: '登录身份', confirmTitle: (site) => `在电脑上登录 ${site}？`,
    ip: '浏览器 IP', browser: '浏览器', time: '请求时间',
    warning: (site) => `只确认你此刻正看着的屏幕上的登录码。${site} 绝不会通过短信或邮件发送登录码：如果这个码是别人发给你的，请点“拒绝”。`,
    matchLegend: '请选择电脑屏幕上显示的数字', pickFirst: '请先选择电脑屏幕上显示的数字。',
    expiresIn: (s) => `此请求将在 ${s} 秒后失效`, decline: '拒绝', confirm: '确认登录',
    confirming: '正在确认…', declining: '正在拒绝…', again: '输入其他登录码',
    doneTitle: '已在电脑上登录', doneText: '现在可以回到电脑了。',
    declinedTitle: '已拒绝登录', declinedText: '没有人因此登录。',
    failedTitle: '无法登录', unknownBrowser: '未知浏览器', ago: (s) => s < 5 ? '刚刚' : `${s} 秒前`,
    invalidUser: 'OpenID 只能包含字母、数字、_ 或 -。', network: '网络有问题，请检查连接后重试。',
    errors: {
      already_scanned: '这个码已被其他人扫描。',
      scene_expired: '这个码已过期。请在电脑上获取新的码后重新扫描。',
      scene_final: '这个码已被使用或已取消。',
      scene_not_found: '无法识别这个码，或它已失效。请在电脑上获取新的码。',
      not_scanner: '这个码是由其他微信用户扫描的。',
      not_scanned: '请先扫码再确认。',
      match_mismatch: '数字与电脑上的不一致。为保护你的安全，本次登录已取消。',
      rate_limited: '尝试次数过多，请稍后再试。',
      invalid_code: '微信登录失败，请重试。',
      wechat_unavailable: '微信暂时没有响应，请稍后再试。',
      unavailable: '服务繁忙，请稍后再试。',
      overloaded: '服务繁忙，请稍后再试。',
    },
    generic: '出了点问题，请重试。',
  },
};

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
const lang = (params.get('lang') || navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
const t = TEXT[lang];
const $ = (id) => document.getElementById(id);
const STORE = 'scanlogin.phone.user';

let scene = params.get('scene') || '';
let siteName = 'scanlogin';
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
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const n of document.querySelectorAll('[data-i18n]')) {
    const v = t[n.dataset.i18n];
    if (typeof v === 'string') n.textContent = v;
  }
  $('nav-title').textContent = siteName;
  document.title = `${siteName} · ${t.simulated}`;
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
    me = await api('PATCH', '/api/v1/mp/me', { body: { nickname: user.nickname }, token: mpToken });
  }
  return api('POST', `/api/v1/qr/${encodeURIComponent(scene)}/scan`, { body: {}, token: mpToken });
}

function showRequest(r) {
  request = r;
  const site = (r.site && r.site.name) || siteName;
  const b = r.browser || {};
  $('me-pic').replaceChildren(initial(me.nickname || 'W'));
  $('me-name').textContent = me.nickname || me.id || '';
  $('confirm-title').textContent = t.confirmTitle(site);
  $('req-ip').textContent = b.ip || '?';
  // The server names the browser once for every client (server/useragent.go).
  $('req-browser').textContent = b.label || t.unknownBrowser;
  $('req-ua').textContent = b.user_agent || '';
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
      $('req-time').textContent = `${created.toLocaleTimeString(lang === 'zh' ? 'zh-CN' : 'en')} (${t.ago(ago)})`;
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
