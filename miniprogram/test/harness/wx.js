'use strict'
// The `wx` API for tests. Network calls are real: wx.request and
// wx.uploadFile speak HTTP to whatever URL the mini-program builds (the
// running scanlogin server), and wx.login asks that server's dev-mode fake
// WeChat for a real login code (POST /dev/wechat/login), as the WeChat client
// would ask WeChat. Storage is in memory; toasts, modals and navigation are
// recorded. Semantics follow the platform: success fires for any HTTP status,
// dataType "json" parses the body when it can, uploadFile gives res.data as a
// string, getStorageSync returns '' for a missing key.

const fs = require('node:fs')
const path = require('node:path')

function canonicalHeader (k) {
  return k.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase())
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
function createWx ({ wechat, openid, nickname, storage }) {
  const env = {
    openid,
    nickname,
    storage: storage || new Map(),
    sessionValid: false, // wx.checkSession: true after a wx.login
    toasts: [],
    modals: [],
    navigations: [],
    requests: [], // {method, url, status, auth}
    calls: { login: 0, checkSession: 0, request: 0, uploadFile: 0 },
    deprecated: [],
    modalAnswer: true,
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
    }
  }

  function http (o, kind) {
    env.calls[kind]++
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
        const r = { data, statusCode: res.status, header, errMsg: kind + ':ok' }
        if (kind === 'request') r.cookies = []
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
    setStorageSync: (k, v) => { env.storage.set(k, JSON.stringify(v === undefined ? null : v)) },
    removeStorageSync: k => { env.storage.delete(k) },
    clearStorageSync: () => env.storage.clear(),

    showToast (o) { env.toasts.push({ title: o.title, icon: o.icon || 'success' }); later(o.success, {}) },
    hideToast () {},
    showLoading (o) { env.toasts.push({ title: o.title, icon: 'loading' }) },
    hideLoading () {},
    showModal (o) {
      env.modals.push({ title: o.title, content: o.content })
      later(o.success, { confirm: env.modalAnswer, cancel: !env.modalAnswer, errMsg: 'showModal:ok' })
    },

    navigateTo (o) { env.navigations.push({ type: 'navigateTo', url: o.url }); later(o.success, {}) },
    redirectTo (o) { env.navigations.push({ type: 'redirectTo', url: o.url }); later(o.success, {}) },
    reLaunch (o) { env.navigations.push({ type: 'reLaunch', url: o.url }); later(o.success, {}) },
    switchTab (o) { env.navigations.push({ type: 'switchTab', url: o.url }); later(o.success, {}) },
    navigateBack (o = {}) { env.navigations.push({ type: 'navigateBack', delta: o.delta || 1 }); later(o.success, {}) },
    setNavigationBarTitle (o) { env.title = o.title },
    stopPullDownRefresh () {},

    scanCode (o) {
      env.privacyGate('scanCode').then(ok => {
        if (ok && env.scanResult) later(o.success, Object.assign({ errMsg: 'scanCode:ok' }, env.scanResult))
        else later(o.fail, { errMsg: 'scanCode:fail cancel' })
      })
    },

    getPrivacySetting (o) {
      later(o.success, { needAuthorization: env.privacy.needAuthorization, privacyContractName: '《scanlogin privacy guide》', errMsg: 'getPrivacySetting:ok' })
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

module.exports = { createWx }
