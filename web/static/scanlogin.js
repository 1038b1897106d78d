/*
 * scanlogin.js: the scan-login widget.
 *
 * Include it as a classic script (it sets window.ScanLogin) or import
 * scanlogin.mjs next to it as an ES module; both are this one implementation,
 * which the login page of scanlogin uses too.
 *
 *   const login = ScanLogin.mount(el, {
 *     baseURL: 'https://login.example.com', // default: where this script came from
 *     onSuccess(result) {},  // redeem answer: {access_token, refresh_token, expires_in, user}
 *     onError(err) {},       // err.status, err.code; the widget keeps showing what to do
 *     onState(detail) {},    // {scene, state, version} on every change (also a
 *                            // 'scanlogin:state' event on el)
 *     lang: 'zh' | 'en',     // default: the browser's languages (zh-* -> zh, else en); `locale` is the same
 *   });
 *   login.refresh(); login.destroy();
 *
 * The poll token lives only in this closure: never in a URL, the DOM or
 * storage. The scene ID is public (it is in the QR) and is exposed as
 * el.dataset.scene, with el.dataset.state, for pages and tests.
 */
(function (global) {
  'use strict';

  // Where this file was loaded from: the default API origin, so a site that
  // includes https://login.example.com/scanlogin.js needs no configuration.
  const scriptOrigin = (() => {
    try {
      const s = global.document && global.document.currentScript;
      return s && s.src ? new URL(s.src).origin : '';
    } catch {
      return '';
    }
  })();

  // Idle expiries (nobody scanned) that get a fresh code on their own; after
  // that the overlay waits for a click, so an abandoned tab stops costing a
  // WeChat code every two minutes.
  const AUTO_REFRESHES = 3;
  const DEFAULT_WAIT = 25; // seconds per long poll (docs/ARCHITECTURE.md#waiting: default 25, max 30)
  const MAX_BACKOFF = 30000;
  // The states of a scene (the state answer's "state"); anything else is no answer of ours.
  const STATES = new Set(['pending', 'scanned', 'confirmed', 'redeemed', 'cancelled', 'expired']);

  // zh fills a Chinese sentence with a name: the space the template writes
  // beside it stays next to a Latin name and goes next to a Chinese one
  // ("张三已扫码", "Alice 已扫码"), as Chinese is written.
  const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;
  const zh = (parts, ...names) => parts.reduce((out, part, i) => {
    const name = String(names[i - 1]);
    const a = out.endsWith(' ') && CJK.test(out[out.length - 2]) && CJK.test(name[0]) ? out.slice(0, -1) : out;
    return a + name + (part.startsWith(' ') && CJK.test(part[1]) && CJK.test(name[name.length - 1]) ? part.slice(1) : part);
  });

  const STRINGS = {
    en: {
      title: 'Scan with WeChat to sign in',
      hint: 'Open WeChat, tap + then Scan, and point it at the code.',
      qrAlt: 'Mini-program login code. Scan it with WeChat.',
      loading: 'Getting a login code…',
      ready: 'Login code ready. Scan it with WeChat.',
      renewed: 'The code expired. Here is a new one.',
      scanned: 'Scanned',
      confirmOnPhone: 'Confirm on your phone',
      pickOnPhone: (n) => `Choose ${n} on your phone`,
      scannedStatus: (name) => `Scanned by ${name}. Confirm on your phone.`,
      scannedPick: (name, n) => `Scanned by ${name}. Choose ${n} on your phone.`,
      someone: 'WeChat user',
      avatarAlt: (name) => `Profile picture of ${name}`,
      confirmed: 'Confirmed. Signing you in…',
      redeemed: 'Signed in',
      expired: 'Click to refresh',
      expiredTap: 'Tap to refresh',
      expiredStatus: 'The login code expired. Click the code to get a new one.',
      expiredStatusTap: 'The login code expired. Tap the code to get a new one.',
      expiredTitle: 'The code expired',
      cancelled: 'Login cancelled on the phone',
      scannedTitle: 'Scanned',
      scannedHint: 'Tap Confirm in WeChat to finish.',
      cancelledTitle: 'You cancelled this login',
      cancelledHint: 'Get a new code to sign in again, or close this window.',
      redeemedHint: 'You can continue now.',
      mobileHint: 'On this phone? Tap Open in WeChat, sign in there, then come back here.',
      wechatHint: 'Tap Open in WeChat, or press and hold the code to scan it.',
      openInWeChat: 'Open in WeChat',
      configError: 'Sign-in is not set up for this site. Please tell its administrator.',
      newCode: 'Get a new code',
      retrying: (s) => `Connection problem. Retrying in ${s} s…`,
      busy: (s) => `The server is busy. Retrying in ${s} s…`,
      failed: 'Something went wrong.',
      used: 'This code has already been used.',
      tryAgain: 'Try again',
      matchLabel: 'Match code',
    },
    zh: {
      title: '使用微信扫码登录',
      hint: '打开微信，点击右上角“+”选择“扫一扫”，对准二维码。',
      qrAlt: '登录二维码，请用微信扫描',
      loading: '正在获取二维码…',
      ready: '二维码已就绪，请用微信扫描。',
      renewed: '二维码已失效，已自动刷新。',
      scanned: '已扫码',
      confirmOnPhone: '请在手机上确认',
      pickOnPhone: (n) => `请在手机上选择 ${n}`,
      scannedStatus: (name) => zh`${name} 已扫码，请在手机上确认。`,
      scannedPick: (name, n) => zh`${name} 已扫码，请在手机上选择 ${n}。`,
      someone: '微信用户',
      avatarAlt: (name) => zh`${name} 的头像`,
      confirmed: '已确认，正在登录…',
      redeemed: '登录成功',
      expired: '点击刷新',
      expiredTap: '点击刷新',
      expiredStatus: '二维码已失效，点击二维码即可刷新。',
      expiredStatusTap: '二维码已失效，点击二维码即可刷新。',
      expiredTitle: '二维码已失效',
      cancelled: '已在手机上取消登录',
      scannedTitle: '扫描成功',
      scannedHint: '请在微信中点击确认即可登录',
      cancelledTitle: '你已取消此次登录',
      cancelledHint: '你可以刷新二维码再次登录，或关闭窗口',
      redeemedHint: '现在可以继续使用了。',
      mobileHint: '在这台手机上？点击“在微信中打开”，确认后回到这里即可登录。',
      wechatHint: '点击“在微信中打开”，或长按二维码识别。',
      openInWeChat: '在微信中打开',
      configError: '本网站的扫码登录配置有误，请联系网站管理员。',
      newCode: '获取新的二维码',
      retrying: (s) => `网络连接失败，${s} 秒后重试…`,
      busy: (s) => `服务器繁忙，${s} 秒后重试…`,
      failed: '出了点问题，请重试。',
      used: '该二维码已被使用。',
      tryAgain: '重试',
      matchLabel: '配对码',
    },
  };

  // The language: the integrator's choice (lang or locale), else the
  // browser's languages: zh-* is Simplified Chinese, anything else English.
  function pickLocale(locale) {
    const langs = locale ? [locale] : (global.navigator && (global.navigator.languages || [global.navigator.language])) || [];
    for (const l of langs) {
      const s = String(l || '').toLowerCase();
      if (s.startsWith('zh')) return 'zh';
      if (s.startsWith('en')) return 'en';
    }
    return 'en';
  }

  // Where the widget runs (README: "Open in WeChat"). mobile: a phone or
  // tablet browser, whose user cannot scan their own screen; wechat:
  // WeChat's own browser (MicroMessenger), where a URL Link opens the
  // mini-program directly and pressing the code recognises it. iPadOS
  // claims to be a Mac; its touch points give it away.
  function device(ua, touchPoints) {
    ua = String(ua || '');
    const wechat = /MicroMessenger\//i.test(ua);
    const mobile = /Android|iPhone|iPad|iPod|Mobile|HarmonyOS|OpenHarmony/i.test(ua) ||
      (/Macintosh/.test(ua) && (touchPoints || 0) > 1);
    return { mobile, wechat };
  }

  // The light frame, overlay and buttons keep their contrast on any host
  // page; the text colours outside the frame follow --sl-fg / --sl-muted,
  // which a host can set on the element (custom properties cross the shadow
  // boundary) to match a dark theme.
  const CSS = `
:host { display: block; color: var(--sl-fg, #1f2328);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", sans-serif; }
:host([hidden]) { display: none; }
.sl { display: flex; flex-direction: column; align-items: center; text-align: center; gap: .5rem; }
.frame:focus { outline: none; }
.frame { position: relative; box-sizing: border-box; width: min(var(--sl-size, 232px), 100%); aspect-ratio: 1 / 1;
  border-radius: 12px; background: #fff; border: 1px solid var(--sl-border, #d0d7de); overflow: hidden; }
.qr { display: block; box-sizing: border-box; width: 100%; height: 100%; padding: 10px; object-fit: contain; }
.qr:not([src]) { visibility: hidden; }
.frame[data-dim] .qr { opacity: .15; filter: blur(2px); transition: opacity .2s, filter .2s; }
.frame[data-down] .qr { opacity: .25; filter: blur(2px) grayscale(1); }
.overlay { position: absolute; inset: 0; box-sizing: border-box; display: flex; flex-direction: column;
  align-items: center; justify-content: center; gap: .5rem; padding: 1rem; margin: 0; border: 0;
  background: rgba(255, 255, 255, .9); color: #1f2328; font: inherit; text-align: center; }
.overlay[hidden] { display: none; }
button.overlay { cursor: pointer; width: 100%; }
button.overlay:hover .big { text-decoration: underline; }
button:focus-visible { outline: 3px solid #0969da; outline-offset: -3px; }
.avatar { width: 64px; height: 64px; border-radius: 50%; object-fit: cover; background: #e7f3ec; }
.initial { display: grid; place-items: center; width: 64px; height: 64px; border-radius: 50%;
  background: #e7f3ec; color: #066a32; font-size: 28px; font-weight: 600; }
.name { max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; }
.big { font-size: 1.05rem; font-weight: 600; }
.ok { color: #066a32; }
.icon { width: 40px; height: 40px; }
.btn { min-height: 44px; padding: 0 1.1rem; border: 0; border-radius: 8px; background: #067a38; color: #fff;
  font: inherit; font-weight: 600; cursor: pointer; }
.btn:hover { background: #05652e; }
.title { margin: .25rem 0 0; font-size: 1.05rem; font-weight: 600; }
.hint { margin: 0; max-width: 22rem; min-height: 2.9em; color: var(--sl-muted, #57606a); font-size: .9rem; }
.match { margin: 0; min-height: 2rem; display: flex; align-items: center; gap: .5rem; color: var(--sl-muted, #57606a); }
.match:not([data-on]) { visibility: hidden; }
.match strong { color: var(--sl-fg, #1f2328); font-size: 1.5rem; letter-spacing: .12em; font-variant-numeric: tabular-nums; }
.status { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.notice { margin: 0; max-width: 22rem; min-height: 1.45em; color: var(--sl-muted, #57606a); font-size: .875rem; }
.hint, .title, .notice { text-wrap: pretty; }
:host(:lang(zh)) .hint, .sl:lang(zh) .hint { word-break: keep-all; line-break: strict; }
/* Not WeChat's brand green #07c160: white on it is 2.4:1, under WCAG AA's
   4.5:1 for text of this size; the widget's own green is 5.5:1. */
.wechat { display: inline-flex; align-items: center; justify-content: center; gap: .4rem; min-height: 44px;
  padding: 0 1.25rem; border-radius: 8px; background: #067a38; color: #fff; font-weight: 600; text-decoration: none; }
.wechat:hover { background: #05652e; }
.wechat[hidden] { display: none; }
a:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
.spinner { width: 32px; height: 32px; border: 3px solid #d0d7de; border-top-color: #067a38; border-radius: 50%;
  animation: spin 1s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
/* .frame[data-dim] .qr, as the rule that sets the transition: a bare .qr
   is less specific and would lose to it. */
@media (prefers-reduced-motion: reduce) { .spinner { animation-duration: 4s; } .frame[data-dim] .qr { transition: none; } }
`;

  const ICONS = {
    refresh: '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="#067a38" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/></svg>',
    check: '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="#067a38" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"><circle cx="12" cy="12" r="10"/><path d="m7 12.5 3 3 7-7"/></svg>',
    stop: '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="#57606a" stroke-width="2" stroke-linecap="round"><circle cx="12" cy="12" r="10"/><path d="m8 8 8 8M16 8l-8 8"/></svg>',
  };

  /** An HTTP API failure: status 0 means the network (or CORS) failed. */
  class ScanLoginError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message || code || 'request failed');
      this.name = 'ScanLoginError';
      this.status = status;
      this.code = code || (status ? 'http_' + status : 'network');
      this.retryAfter = retryAfter || 0; // seconds
    }
    get retriable() {
      return this.status === 0 || this.status === 429 || this.status >= 500;
    }
  }

  function parseRetryAfter(v) {
    if (!v) return 0;
    const n = Number(v);
    if (Number.isFinite(n)) return Math.max(0, n);
    const t = Date.parse(v);
    return Number.isFinite(t) ? Math.max(0, (t - Date.now()) / 1000) : 0;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'html') e.innerHTML = v; // only our own constant icons
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  class Widget {
    constructor(host, opts) {
      if (!host || !host.nodeType) throw new TypeError('ScanLogin.mount: an element is required');
      this.host = host;
      this.base = String(opts.baseURL || scriptOrigin || global.location.origin).replace(/\/+$/, '');
      this.onSuccess = typeof opts.onSuccess === 'function' ? opts.onSuccess : () => {};
      this.onError = typeof opts.onError === 'function' ? opts.onError : () => {};
      this.onState = typeof opts.onState === 'function' ? opts.onState : () => {};
      this.autoRefreshes = Number.isInteger(opts.autoRefresh) ? opts.autoRefresh : AUTO_REFRESHES;
      this.lang = pickLocale(opts.lang || opts.locale);
      this.t = STRINGS[this.lang];
      const nav = global.navigator || {};
      this.device = device(nav.userAgent, nav.maxTouchPoints);
      // Touch screens are tapped, not clicked.
      this.touch = !!(global.matchMedia && global.matchMedia('(pointer: coarse)').matches);
      this.crossOrigin = (() => {
        try { return new URL(this.base).origin !== global.location.origin; } catch { return false; }
      })();
      this.gen = 0; // bumped for every scene; loops of older scenes stop
      this.abort = null;
      this.scene = null; // {id, pollToken, version, state, matchCode, numberMatch, wait}
      this.state = 'loading';
      this.idleExpiries = 0;
      this.engaged = false; // the current scene was scanned
      this.build();
      this.onPageHide = () => this.abandon();
      this.onPageShow = (e) => { if (e.persisted && this.gen) this.refresh(); };
      this.onVisible = () => {
        if (document.visibilityState === 'visible' && this.state === 'expired' && !this.engaged &&
            this.idleExpiries < this.autoRefreshes) {
          this.idleExpiries++;
          this.newScene(true);
        }
      };
      global.addEventListener('pagehide', this.onPageHide);
      global.addEventListener('pageshow', this.onPageShow);
      document.addEventListener('visibilitychange', this.onVisible);
    }

    build() {
      const t = this.t;
      this.root = this.host.shadowRoot || this.host.attachShadow({ mode: 'open' });
      this.root.replaceChildren();
      if (this.root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === 'function' && CSSStyleSheet.prototype.replaceSync) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        this.root.adoptedStyleSheets = [sheet];
      } else {
        this.root.append(el('style', {}, CSS));
      }
      this.qr = el('img', { class: 'qr', alt: t.qrAlt, width: 232, height: 232, decoding: 'async' });
      this.overlay = el('div', { class: 'overlay' });
      this.frame = el('div', { class: 'frame', part: 'frame', tabindex: '-1' }, this.qr, this.overlay);
      this.matchCode = el('strong');
      this.match = el('p', { class: 'match', part: 'match' }, el('span', {}, t.matchLabel), this.matchCode);
      // Every message is announced by the (visually hidden) status; the
      // visible notice line shows only what the code and the instructions
      // do not already say: connection trouble and retries.
      this.status = el('p', { class: 'status', role: 'status', 'aria-live': 'polite', part: 'status' });
      this.noticeEl = el('p', { class: 'notice', part: 'notice' });
      this.titleEl = el('p', { class: 'title', part: 'title' }, t.title);
      this.hintEl = el('p', { class: 'hint', part: 'hint' }, this.scanHint());
      // "Open in WeChat" on a phone: a plain link to the scene's URL Link
      // (made by the server when tapped), opened in a new tab so this page
      // keeps waiting and finishes the login when the user comes back.
      this.openLink = el('a', { class: 'wechat', part: 'open-in-wechat', 'data-action': 'open-in-wechat',
        target: '_blank', rel: 'noopener', hidden: true }, t.openInWeChat);
      this.root.append(el('div', { class: 'sl', lang: this.lang === 'zh' ? 'zh-CN' : 'en' },
        this.frame,
        this.titleEl,
        this.hintEl,
        this.openLink,
        this.match,
        this.noticeEl,
        this.status));
    }

    scanHint() {
      const t = this.t;
      if (this.device.wechat) return t.wechatHint;
      return this.device.mobile ? t.mobileHint : t.hint;
    }

    // The instructions follow the state, as WeChat's own login page does
    // (扫描成功 / 请在微信中点击确认即可登录).
    instruct(state) {
      const t = this.t;
      const [title, hint] = {
        scanned: [t.scannedTitle, t.scannedHint],
        confirmed: [t.scannedTitle, ''],
        redeemed: [t.redeemed, t.redeemedHint],
        cancelled: [t.cancelledTitle, t.cancelledHint],
        expired: [t.expiredTitle, this.touch ? t.expiredStatusTap : t.expiredStatus],
      }[state] || [t.title, this.scanHint()];
      if (this.titleEl.textContent !== title) this.titleEl.textContent = title;
      if (this.hintEl.textContent !== hint) this.hintEl.textContent = hint;
      const offer = state === 'pending' && (this.device.mobile || this.device.wechat) && this.scene;
      this.openLink.hidden = !offer;
      if (offer) this.openLink.href = `${this.base}/api/v1/qr/${encodeURIComponent(this.scene.id)}/link`;
    }

    // notice shows a message that nothing else on screen says (and
    // announces it); '' takes it down.
    notice(text) {
      if (this.noticeEl.textContent !== text) this.noticeEl.textContent = text;
      if (text) this.say(text);
    }

    // ---- rendering ------------------------------------------------------

    setState(state) {
      this.state = state;
      this.instruct(state);
      const h = this.host.dataset;
      h.state = state;
      if (this.scene) {
        h.scene = this.scene.id;
        h.version = String(this.scene.version);
      } else {
        delete h.scene;
        delete h.version;
      }
      const detail = { scene: this.scene ? this.scene.id : null, state, version: this.scene ? this.scene.version : 0 };
      try { this.onState(detail); } catch (e) { console.error(e); }
      this.host.dispatchEvent(new CustomEvent('scanlogin:state', { detail, bubbles: true, composed: true }));
    }

    say(text) {
      if (this.status.textContent !== text) this.status.textContent = text;
    }

    // Puts the current state's own message back (after a retry message).
    sayState() {
      this.notice('');
      delete this.frame.dataset.down;
      if (this.state === 'pending') this.say(this.t.ready);
      else if (this.state === 'scanned') this.say(this.scannedSay(this.lastScanner));
    }

    // What is said once scanned: with number matching, the number to choose
    // on the phone too, as the overlay shows it.
    scannedSay(name) {
      const s = this.scene;
      return s && s.numberMatch && s.matchCode ? this.t.scannedPick(name, s.matchCode) : this.t.scannedStatus(name);
    }

    showOverlay(node, dim = true) {
      // Keep keyboard focus in the widget when the focused control goes away.
      const hadFocus = !!this.root.activeElement;
      this.overlay.replaceWith(node);
      this.overlay = node;
      node.hidden = !node.childNodes.length;
      // A dimmed code is spent, expired or being replaced: no longer an
      // image to "scan with WeChat" for a screen reader either.
      const dimmed = dim && !node.hidden;
      if (dimmed) this.frame.dataset.dim = '';
      else delete this.frame.dataset.dim;
      if (dimmed) this.qr.setAttribute('aria-hidden', 'true');
      else this.qr.removeAttribute('aria-hidden');
      if (hadFocus) (node.matches('button') ? node : node.querySelector('button') || this.frame).focus();
    }

    clearOverlay() {
      this.showOverlay(el('div', { class: 'overlay', hidden: true }), false);
    }

    spinnerOverlay() {
      this.showOverlay(el('div', { class: 'overlay' }, el('div', { class: 'spinner', role: 'presentation' })));
    }

    renderScanned(by) {
      const t = this.t;
      const name = (by && by.nickname) || t.someone;
      const initial = () => el('span', { class: 'initial', role: 'img', 'aria-label': t.avatarAlt(name) }, Array.from(name)[0].toUpperCase());
      let pic;
      if (by && by.avatar_url) {
        pic = el('img', { class: 'avatar', alt: t.avatarAlt(name), src: this.url(by.avatar_url), width: 64, height: 64 });
        pic.addEventListener('error', () => pic.replaceWith(initial()), { once: true });
      } else {
        pic = initial();
      }
      const s = this.scene;
      // The instructions below the code say what to do; the overlay shows
      // who scanned (and the number to pick, with number matching).
      const ask = s.numberMatch && s.matchCode ? el('span', { class: 'big ok' }, t.pickOnPhone(s.matchCode)) : null;
      this.showOverlay(el('div', { class: 'overlay' },
        pic,
        el('span', { class: 'name', 'data-role': 'nickname' }, name),
        ask));
      this.say(this.scannedSay(name));
    }

    renderExpired() {
      const t = this.t;
      const b = el('button', { type: 'button', class: 'overlay', 'data-action': 'refresh' },
        el('span', { html: ICONS.refresh }), el('span', { class: 'big' }, this.touch ? t.expiredTap : t.expired));
      b.addEventListener('click', () => this.refresh());
      this.showOverlay(b);
      this.say(this.touch ? t.expiredStatusTap : t.expiredStatus);
    }

    // renderProblem: an icon, the text (unless the instructions say it
    // already: shown false) and a button for a new code.
    renderProblem(icon, text, buttonLabel, shown = true) {
      const b = el('button', { type: 'button', class: 'btn', 'data-action': 'refresh' }, buttonLabel);
      b.addEventListener('click', () => this.refresh());
      this.showOverlay(el('div', { class: 'overlay' }, el('span', { html: icon }), shown ? el('span', { class: 'big' }, text) : null, b));
      this.notice('');
      this.say(text);
    }

    url(u) {
      return new URL(u, this.base + '/').href;
    }

    // ---- HTTP ------------------------------------------------------------

    async api(method, path, { token, body, credentials = 'same-origin', timeout = 15000, keepalive = false } = {}) {
      const ctl = new AbortController();
      const outer = this.abort;
      const stop = () => ctl.abort();
      if (outer) {
        if (outer.signal.aborted) ctl.abort();
        else outer.signal.addEventListener('abort', stop, { once: true });
      }
      const timer = setTimeout(stop, timeout);
      const headers = { Accept: 'application/json' };
      if (token) headers.Authorization = 'Bearer ' + token;
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      let res;
      try {
        res = await fetch(this.base + path, {
          method, headers, credentials, keepalive, cache: 'no-store', signal: ctl.signal,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        throw new ScanLoginError(0, ctl.signal.aborted ? 'aborted' : 'network', String(e && e.message || e));
      } finally {
        clearTimeout(timer);
        if (outer) outer.signal.removeEventListener('abort', stop);
      }
      let data = null;
      const text = await res.text().catch(() => '');
      if (text) {
        try { data = JSON.parse(text); } catch { data = null; }
      }
      if (!res.ok) {
        const err = (data && data.error) || {};
        throw new ScanLoginError(res.status, err.code, err.message, parseRetryAfter(res.headers.get('Retry-After')));
      }
      return data || {};
    }

    // Waits before a retry: exponential from 1 s to 30 s with jitter, never
    // shorter than Retry-After. Resolves false if the scene was replaced.
    async backoff(gen, err, failures) {
      const exp = Math.min(MAX_BACKOFF, 1000 * 2 ** Math.min(failures - 1, 5));
      const ms = Math.max(err.retryAfter * 1000, exp * (0.75 + Math.random() * 0.5));
      const secs = Math.max(1, Math.round(ms / 1000));
      this.notice(err.status === 429 || err.status === 503 ? this.t.busy(secs) : this.t.retrying(secs));
      // A code on screen while the server cannot be reached would be
      // scanned for nothing: dim it, as an expired one.
      this.frame.dataset.down = '';
      if (failures === 3) this.report(err);
      await new Promise((r) => setTimeout(r, ms));
      return gen === this.gen;
    }

    report(err) {
      try { this.onError(err); } catch (e) { console.error(e); }
    }

    // ---- the flow --------------------------------------------------------

    start() {
      this.newScene(false);
    }

    refresh() {
      this.idleExpiries = 0;
      this.newScene(false);
    }

    // Replaces the current scene (if any) with a new one and follows it.
    async newScene(auto) {
      const gen = ++this.gen;
      if (this.abort) this.abort.abort();
      this.abandon();
      this.abort = new AbortController();
      this.scene = null;
      this.engaged = false;
      this.match.removeAttribute('data-on');
      this.matchCode.textContent = '';
      this.spinnerOverlay(); // the old code is useless from here on
      // A renewal says nothing until its code is there; emptying the status
      // makes that message a change, so the second and third renewals are
      // announced as the first was (a live region only speaks changes).
      this.say(auto ? '' : this.t.loading);
      this.setState('loading');
      let created;
      for (let failures = 1; ; failures++) {
        try {
          // credentials: 'include' here too, although only redeem needs the
          // cookie: a server whose CORS does not allow credentials fails now,
          // visibly, instead of at redeem, after the scene was spent.
          created = await this.api('POST', '/api/v1/qr', { body: {}, credentials: 'include' });
          break;
        } catch (err) {
          if (gen !== this.gen) return;
          if (err.status === 0 && err.code === 'network' && failures === 1 && this.crossOrigin && await this.reachable()) {
            // The server answers, but not to this origin: CORS refused it.
            if (gen !== this.gen) return;
            return this.misconfigured(gen);
          }
          if (!err.retriable) return this.fail(gen, err);
          if (!(await this.backoff(gen, err, failures))) return;
        }
      }
      if (gen !== this.gen) return;
      delete this.frame.dataset.down;
      this.notice('');
      this.scene = {
        id: created.scene,
        pollToken: created.poll_token,
        version: created.version || 1,
        state: created.state || 'pending',
        matchCode: created.match_code || '',
        numberMatch: !!created.number_match,
        wait: Math.min(30, Math.max(1, Number(created.poll_wait) || DEFAULT_WAIT)),
      };
      if (this.scene.numberMatch && this.scene.matchCode) {
        this.matchCode.textContent = this.scene.matchCode;
        this.match.dataset.on = '';
      }
      // The image may fail until the scene is gone (WeChat down the whole
      // time): then it is an expired code, to be replaced like any other.
      const until = Date.now() + Math.max(1, Number(created.expires_in) || 60) * 1000;
      const shown = await this.loadImage(gen, this.url(created.qr_image_url || `/api/v1/qr/${created.scene}/image`), until);
      if (gen !== this.gen) return;
      // A failed try dimmed the code and said "retrying": it is here now,
      // or the scene ended and nothing retries any more.
      delete this.frame.dataset.down;
      this.notice('');
      if (!shown) return this.expired(gen);
      this.clearOverlay();
      this.say(auto ? this.t.renewed : this.t.ready);
      this.setState('pending');
      this.follow(gen);
    }

    // The image is generated by WeChat on first request and may fail while
    // WeChat is busy; retry quietly like any other request, until the
    // scene's end (until, ms). Resolves true once shown, false when the
    // scene ended first or was replaced.
    loadImage(gen, src, until) {
      return new Promise((resolve) => {
        let failures = 0;
        const img = new Image();
        img.decoding = 'async';
        img.onload = () => {
          if (gen === this.gen) this.qr.src = img.src;
          resolve(true);
        };
        img.onerror = async () => {
          failures++;
          if (!(await this.backoff(gen, new ScanLoginError(0, 'image'), failures))) return resolve(false);
          if (Date.now() >= until) return resolve(false);
          img.src = src + (src.includes('?') ? '&' : '?') + 'retry=' + failures;
        };
        img.src = src;
      });
    }

    // Long-polls the scene until it is final or replaced.
    async follow(gen) {
      let failures = 0;
      while (gen === this.gen) {
        const s = this.scene;
        let r;
        // A long poll that has not failed for a moment means the server is
        // back: take the retry message down without waiting for news.
        const calm = failures ? setTimeout(() => { if (gen === this.gen) this.sayState(); }, 1500) : 0;
        const started = Date.now();
        try {
          r = await this.api('GET', `/api/v1/qr/${encodeURIComponent(s.id)}/state?since=${s.version}&wait=${s.wait}`,
            { token: s.pollToken, timeout: (s.wait + 15) * 1000 });
        } catch (err) {
          clearTimeout(calm);
          if (gen !== this.gen) return;
          if (err.status === 401 || err.status === 404 || err.status === 410) {
            // Gone (garbage-collected or replaced): nothing to follow any more.
            return this.expired(gen);
          }
          if (!err.retriable) return this.fail(gen, err);
          failures++;
          if (!(await this.backoff(gen, err, failures))) return;
          continue;
        }
        clearTimeout(calm);
        if (gen !== this.gen) return;
        if (!STATES.has(r.state)) {
          // A 200 that is no answer of ours (a captive portal's or a
          // proxy's page): a failure like any other, with its backoff,
          // never a tight loop.
          failures++;
          if (!(await this.backoff(gen, new ScanLoginError(0, 'bad_answer', 'the state answer has no known state'), failures))) return;
          continue;
        }
        if (failures) {
          failures = 0;
          this.sayState();
        }
        if (typeof r.version === 'number') s.version = r.version;
        if (r.state === this.state) {
          // The wait elapsed with nothing new. A server answering at once
          // every time (a proxy cutting the poll short) still gets no more
          // than one poll a second.
          const early = 1000 - (Date.now() - started);
          if (early > 0) await new Promise((res) => setTimeout(res, early));
          continue;
        }
        switch (r.state) {
          case 'pending':
            this.clearOverlay();
            this.setState('pending');
            break;
          case 'scanned':
            this.engaged = true;
            this.idleExpiries = 0;
            this.lastScanner = (r.scanned_by && r.scanned_by.nickname) || this.t.someone;
            this.renderScanned(r.scanned_by);
            this.setState('scanned');
            break;
          case 'confirmed':
            return this.redeem(gen);
          case 'expired':
            return this.expired(gen);
          case 'cancelled':
            this.engaged = true;
            this.idleExpiries = 0;
            this.renderProblem(ICONS.stop, this.t.cancelled, this.t.newCode, false);
            this.setState('cancelled');
            return;
          case 'redeemed':
            // Redeemed by someone else holding the poll token: not ours to use.
            this.renderProblem(ICONS.stop, this.t.used, this.t.newCode);
            this.setState('error');
            return;
        }
      }
    }

    expired(gen) {
      if (gen !== this.gen) return;
      const idle = !this.engaged;
      if (idle && this.idleExpiries < this.autoRefreshes && document.visibilityState !== 'hidden') {
        this.idleExpiries++;
        this.newScene(true);
        return;
      }
      this.renderExpired();
      this.setState('expired');
    }

    async redeem(gen) {
      const t = this.t;
      this.showOverlay(el('div', { class: 'overlay' }, el('span', { html: ICONS.check }), el('span', { class: 'big ok' }, t.confirmed)));
      this.say(t.confirmed);
      this.setState('confirmed');
      const s = this.scene;
      let result;
      for (let failures = 1; ; failures++) {
        try {
          // credentials: 'include' so the session cookie lands, also cross-origin.
          result = await this.api('POST', `/api/v1/qr/${encodeURIComponent(s.id)}/redeem`,
            { token: s.pollToken, body: {}, credentials: 'include' });
          break;
        } catch (err) {
          if (gen !== this.gen) return;
          if (err.code === 'scene_expired' || err.status === 410) return this.expired(gen);
          if (err.code === 'already_redeemed' || err.code === 'scene_final') {
            this.renderProblem(ICONS.stop, t.used, t.newCode);
            this.setState('error');
            return this.report(err);
          }
          if (!err.retriable || failures >= 6) return this.fail(gen, err);
          if (!(await this.backoff(gen, err, failures))) return;
        }
      }
      if (gen !== this.gen) return;
      s.pollToken = null; // spent: nothing more to do with it
      this.showOverlay(el('div', { class: 'overlay' }, el('span', { html: ICONS.check })));
      this.say(t.redeemed);
      this.setState('redeemed');
      try { this.onSuccess(result); } catch (e) { console.error(e); }
    }

    // reachable: does the server answer at all? An opaque (no-cors) request
    // succeeds whatever its CORS policy says, so a failed CORS request to a
    // reachable server is a configuration error, not the network.
    async reachable() {
      try {
        await fetch(this.base + '/healthz', { mode: 'no-cors', cache: 'no-store', credentials: 'omit' });
        return true;
      } catch {
        return false;
      }
    }

    misconfigured(gen) {
      if (gen !== this.gen) return;
      const origin = global.location.origin;
      this.renderProblem(ICONS.stop, this.t.configError, this.t.tryAgain);
      this.setState('error');
      this.report(new ScanLoginError(0, 'cors_refused',
        `configuration error: ${this.base} does not allow requests from ${origin}; add ${origin} to its SCANLOGIN_ALLOWED_ORIGINS`));
    }

    fail(gen, err) {
      if (gen !== this.gen) return;
      this.renderProblem(ICONS.stop, this.t.failed, this.t.tryAgain);
      this.setState('error');
      this.report(err);
    }

    // Tells the server this browser is done with a scene that is still open,
    // so a phone scanning it later is told so. Best effort.
    abandon() {
      const s = this.scene;
      if (!s || !s.pollToken || !['pending', 'scanned', 'loading'].includes(this.state)) return;
      fetch(this.base + `/api/v1/qr/${encodeURIComponent(s.id)}`, {
        method: 'DELETE', keepalive: true, headers: { Authorization: 'Bearer ' + s.pollToken },
      }).catch(() => {});
      s.pollToken = null;
    }

    destroy() {
      this.gen++;
      if (this.abort) this.abort.abort();
      this.abandon();
      this.scene = null;
      global.removeEventListener('pagehide', this.onPageHide);
      global.removeEventListener('pageshow', this.onPageShow);
      document.removeEventListener('visibilitychange', this.onVisible);
      this.root.replaceChildren();
      for (const k of ['scene', 'state', 'version']) delete this.host.dataset[k];
    }
  }

  /**
   * Mounts the scan-login experience into el and starts it.
   * Returns {refresh(), destroy(), scene, state}.
   */
  function mount(host, opts) {
    const w = new Widget(host, opts || {});
    w.start();
    return Object.freeze({
      refresh: () => w.refresh(),
      destroy: () => w.destroy(),
      get scene() { return w.scene ? w.scene.id : null; },
      get state() { return w.state; },
    });
  }

  // strings: the widget's words per language (read only; a test checks
  // both languages have every key). device: the phone detection.
  const strings = Object.freeze({ en: Object.freeze({ ...STRINGS.en }), zh: Object.freeze({ ...STRINGS.zh }) });
  global.ScanLogin = Object.freeze({ mount, Error: ScanLoginError, locale: pickLocale, device, strings });
})(typeof window !== 'undefined' ? window : globalThis);
