'use strict'
// The `wx` API for tests. Network calls are real: wx.request and
// wx.uploadFile speak HTTP to whatever URL the mini-program builds (the
// running scanlogin server), and wx.login asks that server's dev-mode fake
// WeChat for a real login code (POST /dev/wechat/login), as the WeChat client
// would ask WeChat. Storage is in memory; toasts, modals and navigation are
// recorded. Semantics follow the platform: success fires for any HTTP status,
// dataType "json" parses the body when it can, uploadFile gives res.data as a
// string with no header, getStorageSync returns '' for a missing key.
//
// It refuses what WeChat refuses (see docs in miniprogram/README.md, "Tests"):
// a request method outside WeChat's list, an 11th request or upload while 10
// are in flight, a modal button over 4 characters, a
// toast title over its length, navigation to a page not in app.json or past
// the 10-page stack. Each refusal runs the call's fail callback as WeChat
// would AND is recorded in env.violations (and the runtime's errors), which
// the test suites assert empty: a violation fails the test, loudly.

const fs = require('node:fs')
const path = require('node:path')

function canonicalHeader (k) {
  return k.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase())
}

// WeChat's wx.request methods; anything else fails with "method is invalid".
const METHODS = new Set(['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT'])
// showModal's confirmText/cancelText: at most 4 characters.
const MODAL_BUTTON_MAX = 4
// showToast's title with an icon shows at most 7 Chinese characters' width;
// with icon "none" at most two lines. A line is taken as 12 Chinese
// characters' width (the toast's max width at a 375 pt screen, 14 px text):
// an estimate, not an official number.
const TOAST_ICON_MAX = 7
const TOAST_TEXT_MAX = 24
// The page stack is at most 10 deep.
const STACK_MAX = 10
// wx.request, wx.uploadFile and wx.downloadFile: at most 10 at once (WeChat's
// wx.request reference; miniprogram/README.md "Tests").
const NETWORK_MAX = 10
// Storage: at most 1 MB under one key and 10 MB in all (WeChat's wx.setStorage
// documentation; miniprogram/README.md "Test harness"); over either,
// setStorageSync throws. Counted in UTF-8 bytes of the serialized value, the
// stricter reading.
const STORAGE_KEY_MAX = 1 << 20
const STORAGE_TOTAL_MAX = 10 << 20

// resolveRoute reads a navigation path as WeChat does: "/pages/a/b" from the
// root, anything else relative to the current page's folder, with "." and
// ".." segments.
function resolveRoute (url, current) {
  if (url.startsWith('/')) return url.slice(1)
  const parts = current.split('/').slice(0, -1)
  for (const seg of url.split('/')) {
    if (seg === '..') parts.pop()
    else if (seg !== '.' && seg !== '') parts.push(seg)
  }
  return parts.join('/')
}

// textWidth counts a CJK or full-width character as 1 and anything else as
// half, the unit WeChat's "N Chinese characters" limits are written in.
function textWidth (s) {
  let w = 0
  for (const ch of String(s)) {
    w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{20000}-\u{3fffd}]/u.test(ch) ? 1 : 0.5
  }
  return w
}

function charCount (s) {
  return Array.from(String(s)).length
}

function later (fn, ...args) {
  if (typeof fn === 'function') setTimeout(() => fn(...args), 0)
}

function query (data) {
  if (!data || typeof data !== 'object') return data === undefined || data === null ? '' : String(data)
  return Object.entries(data).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(typeof v === 'object' ? JSON.stringify(v) : v)).join('&')
}

// createWx returns {wx, env}. wechat: base URL of the server whose
// /dev/wechat/login mints codes; openid: the WeChat user of this "phone".
// language: what wx.getAppBaseInfo().language answers (default zh_CN).
function createWx ({ wechat, openid, nickname, storage, language }) {
  const env = {
    openid,
    nickname,
    language: language || 'zh_CN',
    theme: 'light',
    violations: [], // what WeChat would refuse; tests assert it stays empty
    onViolation: null, // set by the runtime to record it among its errors
    pages: null, // app.json pages, set by the runtime
    stackDepth: () => 1, // set by the runtime
    currentRoute: () => '', // the top page's route, set by the runtime
    storage: storage || new Map(),
    sessionValid: false, // wx.checkSession: true after a wx.login
    toasts: [],
    modals: [],
    navigations: [],
    requests: [], // {method, url, status, auth}
    calls: { login: 0, checkSession: 0, request: 0, uploadFile: 0 },
    deprecated: [],
    modalAnswer: true,
    modalFails: '', // an errMsg: WeChat fails showModal for reasons of its own
    avatarFile: null,
    phoneCode: null,
    scanResult: null,
    privacy: { needAuthorization: false, listener: null, agreedButtons: new Set(), prompts: [], contractOpened: 0 },
    inFlight: 0,

    // privacyGate plays WeChat's privacy check before a protected API or
    // component works: without consent it calls the app's
    // onNeedPrivacyAuthorization listener and waits for its resolve().
    privacyGate (api) {
      const p = env.privacy
      if (!p.needAuthorization) return Promise.resolve(true)
      p.prompts.push(api)
      if (!p.listener) return Promise.resolve(false) // the built-in popup; tests never agree to it
      return new Promise(resolve => {
        let settled = false
        p.listener(result => {
          if (settled) return
          settled = true
          if (result && result.event === 'agree') {
            // WeChat only accepts "agree" for a tapped agree button.
            if (!p.agreedButtons.has(result.buttonId)) {
              resolve(false)
              return
            }
            p.needAuthorization = false
            resolve(true)
          } else {
            resolve(false)
          }
        }, { referrer: api })
      })
    },

    agreeTapped (id) {
      env.privacy.agreedButtons.add(id)
    },

    lastToast () {
      return env.toasts[env.toasts.length - 1] || null
    },

    lastModal () {
      return env.modals[env.modals.length - 1] || null
    }
  }

  // refuse records what WeChat would not do and runs the fail callback with
  // WeChat's errMsg.
  function refuse (o, api, errMsg, why) {
    const v = 'wx.' + api + ': ' + why
    env.violations.push(v)
    if (env.onViolation) env.onViolation(new Error('WeChat refuses ' + v))
    later(o && o.fail, { errMsg: api + ':fail ' + errMsg })
    later(o && o.complete)
  }

  // navigable checks a navigateTo/redirectTo URL against app.json. A URL
  // without a leading "/" is relative to the current page, as WeChat reads
  // it ("scan?x=1" from pages/index/index is pages/index/scan).
  function navigable (o, api) {
    const url = String((o && o.url) || '')
    const route = resolveRoute(url.split('?')[0], env.currentRoute())
    if (env.pages && !env.pages.includes(route)) {
      refuse(o, api, 'page "' + route + '" is not found', JSON.stringify(url) + ' is not a page in app.json')
      return false
    }
    return true
  }

  // storageSize is what WeChat counts of a stored value: its serialized
  // length, UTF-8.
  function storageSize (json) { return Buffer.byteLength(json, 'utf8') }

  function http (o, kind) {
    env.calls[kind]++
    if (kind === 'request') {
      const m = o.method === undefined ? 'GET' : String(o.method)
      if (!METHODS.has(m)) {
        refuse(o, 'request', 'method is invalid', 'method ' + JSON.stringify(m) + ' is not one WeChat sends (' + [...METHODS].join(', ') + ')')
        return { abort () {} }
      }
    }
    if (env.inFlight >= NETWORK_MAX) {
      refuse(o, kind, 'exceed max task count', 'already ' + NETWORK_MAX + ' requests and uploads in flight; WeChat runs at most ' + NETWORK_MAX + ' at once')
      return { abort () {} }
    }
    if (!/^https?:\/\//.test(o.url || '')) {
      later(o.fail, { errMsg: kind + ':fail invalid url "' + o.url + '"' })
      later(o.complete)
      return { abort () {} }
    }
    const ctrl = new AbortController()
    const timer = setTimeout(() => ctrl.abort(new Error('timeout')), o.timeout || 60000)
    const headers = {}
    for (const [k, v] of Object.entries(o.header || {})) {
      if (k.toLowerCase() !== 'referer') headers[k] = String(v)
    }
    const rec = { method: (o.method || (kind === 'uploadFile' ? 'POST' : 'GET')).toUpperCase(), url: o.url, status: 0, auth: headers.Authorization || headers.authorization || '' }
    env.requests.push(rec)
    let url = o.url
    let body
    if (kind === 'uploadFile') {
      const form = new FormData()
      for (const [k, v] of Object.entries(o.formData || {})) form.append(k, String(v))
      let bytes
      try {
        bytes = fs.readFileSync(o.filePath)
      } catch (e) {
        clearTimeout(timer)
        later(o.fail, { errMsg: 'uploadFile:fail file not found' })
        later(o.complete)
        return { abort () {} }
      }
      form.append(o.name, new Blob([bytes]), path.basename(o.filePath))
      body = form
    } else {
      const hasType = Object.keys(headers).some(k => k.toLowerCase() === 'content-type')
      if (!hasType) headers['Content-Type'] = 'application/json'
      const ct = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')[1]
      if (o.data !== undefined && o.data !== null) {
        if (rec.method === 'GET') {
          const q = query(o.data)
          if (q) url += (url.includes('?') ? '&' : '?') + q
        } else if (typeof o.data === 'string' || o.data instanceof ArrayBuffer) {
          body = o.data
        } else if (/json/.test(ct)) {
          body = JSON.stringify(o.data)
        } else {
          body = query(o.data)
        }
      }
    }
    env.inFlight++
    fetch(url, { method: rec.method, headers, body, signal: ctrl.signal, redirect: 'follow' })
      .then(async res => {
        const text = await res.text()
        rec.status = res.status
        const header = {}
        res.headers.forEach((v, k) => { header[canonicalHeader(k)] = v })
        let data = text
        if (kind === 'request' && (o.dataType || 'json') === 'json') {
          try { data = JSON.parse(text) } catch (e) { /* leave as text, as WeChat does */ }
        }
        rec.body = data
        // uploadFile's result has data and statusCode only: no header.
        const r = kind === 'request'
          ? { data, statusCode: res.status, header, cookies: [], errMsg: 'request:ok' }
          : { data, statusCode: res.status, errMsg: 'uploadFile:ok' }
        return r
      })
      .then(r => { if (o.success) o.success(r) }, err => {
        const reason = ctrl.signal.aborted ? (ctrl.signal.reason && ctrl.signal.reason.message === 'timeout' ? 'timeout' : 'abort') : (err.cause && err.cause.code) || err.message
        if (o.fail) o.fail({ errMsg: kind + ':fail ' + reason, errno: 600001 })
      })
      .finally(() => {
        env.inFlight--
        clearTimeout(timer)
        if (o.complete) o.complete()
      })
    return { abort () { ctrl.abort(new Error('abort')) } }
  }

  function deprecated (name) {
    return o => {
      env.deprecated.push(name)
      later(o && o.fail, { errMsg: name + ':fail deprecated in this test adapter' })
    }
  }

  const wx = {
    request: o => http(o, 'request'),
    uploadFile: o => http(o, 'uploadFile'),

    login (o = {}) {
      env.calls.login++
      fetch(wechat + '/dev/wechat/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(env.nickname ? { openid: env.openid, nickname: env.nickname } : { openid: env.openid })
      }).then(async res => {
        const body = await res.json()
        if (res.status !== 200 || !body.code) throw new Error('dev login ' + res.status + ' ' + JSON.stringify(body))
        env.sessionValid = true
        if (o.success) o.success({ code: body.code, errMsg: 'login:ok' })
      }).catch(err => {
        if (o.fail) o.fail({ errMsg: 'login:fail ' + err.message })
      }).finally(() => { if (o.complete) o.complete() })
    },

    checkSession (o = {}) {
      env.calls.checkSession++
      if (env.sessionValid) later(o.success, { errMsg: 'checkSession:ok' })
      else later(o.fail, { errMsg: 'checkSession:fail session time out' })
      later(o.complete)
    },

    getStorageSync: k => (env.storage.has(k) ? JSON.parse(env.storage.get(k)) : ''),
    setStorageSync: (k, v) => {
      const json = JSON.stringify(v === undefined ? null : v)
      let total = storageSize(json)
      for (const [key, stored] of env.storage) if (key !== k) total += storageSize(stored)
      if (storageSize(json) > STORAGE_KEY_MAX || total > STORAGE_TOTAL_MAX) {
        const why = storageSize(json) > STORAGE_KEY_MAX ? 'a value over 1 MB under ' + JSON.stringify(k) : 'storage over 10 MB in all'
        env.violations.push('wx.setStorageSync: ' + why)
        const err = new Error('setStorageSync:fail exceed storage max size 10MB')
        if (env.onViolation) env.onViolation(new Error('WeChat refuses wx.setStorageSync: ' + why))
        throw err
      }
      env.storage.set(k, json)
    },
    removeStorageSync: k => { env.storage.delete(k) },
    clearStorageSync: () => env.storage.clear(),

    showToast (o) {
      const icon = o.icon || 'success'
      const max = icon === 'none' ? TOAST_TEXT_MAX : TOAST_ICON_MAX
      if (textWidth(o.title) > max) {
        // WeChat cuts the text rather than failing; the test fails instead.
        env.violations.push('wx.showToast: title ' + JSON.stringify(o.title) + ' is ' + textWidth(o.title) + ' Chinese characters wide; icon "' + icon + '" shows at most ' + max)
        if (env.onViolation) env.onViolation(new Error('WeChat cuts ' + env.violations[env.violations.length - 1]))
      }
      env.toasts.push({ title: o.title, icon })
      later(o.success, {})
    },
    hideToast () {},
    showLoading (o) {
      if (textWidth(o.title) > TOAST_ICON_MAX) {
        env.violations.push('wx.showLoading: title ' + JSON.stringify(o.title) + ' is over ' + TOAST_ICON_MAX + ' Chinese characters wide')
        if (env.onViolation) env.onViolation(new Error('WeChat cuts ' + env.violations[env.violations.length - 1]))
      }
      env.toasts.push({ title: o.title, icon: 'loading' })
    },
    hideLoading () {},
    showModal (o) {
      if (env.modalFails) {
        later(o.fail, { errMsg: env.modalFails })
        later(o.complete)
        return
      }
      for (const k of ['confirmText', 'cancelText']) {
        if (o[k] !== undefined && charCount(o[k]) > MODAL_BUTTON_MAX) {
          refuse(o, 'showModal', k + ' length should not larger than ' + MODAL_BUTTON_MAX + ' Chinese characters', k + ' ' + JSON.stringify(o[k]) + ' is longer than ' + MODAL_BUTTON_MAX + ' characters, so WeChat shows no modal')
          return
        }
      }
      env.modals.push({ title: o.title, content: o.content, confirmText: o.confirmText, cancelText: o.cancelText })
      later(o.success, { confirm: env.modalAnswer, cancel: !env.modalAnswer, errMsg: 'showModal:ok' })
      later(o.complete)
    },

    navigateTo (o) {
      if (!navigable(o, 'navigateTo')) return
      if (env.stackDepth() >= STACK_MAX) {
        refuse(o, 'navigateTo', 'webview count limit exceed', 'the page stack is already ' + STACK_MAX + ' deep')
        return
      }
      env.navigations.push({ type: 'navigateTo', url: o.url })
      later(o.success, {})
    },
    redirectTo (o) { if (navigable(o, 'redirectTo')) { env.navigations.push({ type: 'redirectTo', url: o.url }); later(o.success, {}) } },
    reLaunch (o) { if (navigable(o, 'reLaunch')) { env.navigations.push({ type: 'reLaunch', url: o.url }); later(o.success, {}) } },
    switchTab (o) { refuse(o, 'switchTab', 'can not switch to no-tabBar page', 'this app has no tabBar') },
    navigateBack (o = {}) { env.navigations.push({ type: 'navigateBack', delta: o.delta || 1 }); later(o.success, {}) },
    setNavigationBarTitle (o) { env.title = o.title; later(o.success, {}) },

    // Base library >= 2.20.1: the WeChat app's language and theme.
    getAppBaseInfo () {
      return { SDKVersion: '3.3.4', language: env.language, theme: env.theme, enableDebug: false, host: { env: 'WeChat' } }
    },
    onThemeChange () {},
    stopPullDownRefresh () {},

    scanCode (o) {
      env.privacyGate('scanCode').then(ok => {
        if (ok && env.scanResult) later(o.success, Object.assign({ errMsg: 'scanCode:ok' }, env.scanResult))
        else later(o.fail, { errMsg: 'scanCode:fail cancel' })
      })
    },

    getPrivacySetting (o) {
      later(o.success, { needAuthorization: env.privacy.needAuthorization, privacyContractName: "《扫码登录小程序隐私保护指引》", errMsg: 'getPrivacySetting:ok' })
    },
    onNeedPrivacyAuthorization (listener) { env.privacy.listener = listener },
    requirePrivacyAuthorize (o) {
      env.privacyGate('requirePrivacyAuthorize').then(ok => ok ? later(o.success, {}) : later(o.fail, { errMsg: 'requirePrivacyAuthorize:fail' }))
    },
    openPrivacyContract (o = {}) { env.privacy.contractOpened++; later(o.success, {}) },

    // The deprecated profile APIs: the mini-program must never call them.
    getUserInfo: deprecated('getUserInfo'),
    getUserProfile: deprecated('getUserProfile')
  }

  return { wx, env }
}

module.exports = { createWx, textWidth, charCount, METHODS, MODAL_BUTTON_MAX, TOAST_ICON_MAX, TOAST_TEXT_MAX, STACK_MAX, NETWORK_MAX }
