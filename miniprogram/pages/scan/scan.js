// The confirm page the login QR code opens (SCANLOGIN_MP_PAGE, default
// "pages/scan/scan"). It scans the scene as soon as it loads, shows who is
// asking, and lets the user Confirm or Decline.
const api = require('../../utils/request.js')
const ua = require('../../utils/ua.js')
const format = require('../../utils/format.js')

const SCENE_RE = /^[0-9a-f]{32}$/

// sceneFrom finds the scene in the page options:
// - options.scene from a mini-program code (URL-encoded by WeChat),
// - a "scene=..." value typed into DevTools' launch parameters, which may
//   arrive still wrapped ("scene%3D...") or as a query string,
// - options.q from a plain QR code holding a URL with ?scene=... .
function sceneFrom (options) {
  const candidates = []
  if (options.scene) candidates.push(options.scene)
  if (options.q) candidates.push(options.q)
  for (let raw of candidates) {
    raw = String(raw)
    try { raw = decodeURIComponent(raw) } catch (e) { /* keep as is */ }
    const m = raw.match(/(?:^|[?&])scene=([^&#]*)/)
    if (m) {
      try { raw = decodeURIComponent(m[1]) } catch (e) { raw = m[1] }
    }
    raw = raw.trim().toLowerCase()
    if (SCENE_RE.test(raw)) return raw
  }
  return ''
}

// Messages for the states a person can end up in. Kept here, not in WXML,
// so the wording lives in one place.
const MESSAGES = {
  invalid: {
    title: 'Not a sign-in code',
    text: 'This code is not a valid sign-in code. Open the sign-in page on your computer and scan the code shown there.'
  },
  expired: {
    title: 'This code has expired',
    text: 'Sign-in codes only work for a few minutes. Refresh the code on your computer and scan it again.'
  },
  taken: {
    title: 'Already scanned by someone else',
    text: 'Another WeChat account has already scanned this code, so you cannot use it. If that was not you, refresh the code on your computer and do not share it.'
  },
  used: {
    title: 'This code was already used',
    text: 'This sign-in has already been completed or cancelled. Refresh the code on your computer to sign in again.'
  },
  mismatch: {
    title: 'The number did not match',
    text: 'You picked a number that is not the one on the computer, so this sign-in was cancelled to protect your account. If you did not start it, someone may be trying to trick you.'
  },
  again: {
    title: 'Already confirmed',
    text: 'You have already confirmed this sign-in. Return to your computer; it signs in by itself.'
  },
  confirmed: {
    title: 'Signed in on your computer',
    text: 'You can return to your computer now. You can sign that browser out at any time from your profile.'
  },
  declined: {
    title: 'Sign-in declined',
    text: 'The computer was not signed in. If you did not try to sign in yourself, nothing else is needed.'
  }
}

Page({
  data: {
    // loading | ready | working | confirmed | again | declined | expired |
    // taken | used | mismatch | invalid | error
    state: 'loading',
    site: '',
    browser: '',
    os: '',
    ip: '',
    time: '',
    choices: [],
    picked: '',
    title: '',
    message: '',
    canRetry: false
  },

  onLoad (options) {
    this.scene = sceneFrom(options || {})
    if (!this.scene) {
      this.finish('invalid')
      return
    }
    this.scan()
  },

  onUnload () {
    this.unloaded = true
    clearTimeout(this.expiryTimer)
  },

  async scan () {
    this.setData({ state: 'loading', canRetry: false })
    await getApp().whenLoggedIn()
    let res
    try {
      res = await api.request({ path: '/api/v1/qr/' + this.scene + '/scan', method: 'POST' })
    } catch (err) {
      this.fail(err)
      return
    }
    // Scanning again after confirming is allowed (idempotent) and reports
    // the scene as it stands: nothing left to decide here.
    if (res.state === 'confirmed') {
      this.finish('again')
      return
    }
    const browser = res.browser || {}
    const who = ua.parse(browser.user_agent)
    this.setData({
      state: 'ready',
      site: (res.site && res.site.name) || 'this website',
      browser: who.browser,
      os: who.os,
      ip: browser.ip || 'unknown',
      time: format.dateTime(browser.created_at),
      choices: res.match_choices || [],
      picked: ''
    })
    wx.setNavigationBarTitle({ title: 'Confirm sign-in' })
    // Show "expired" when the confirm window closes rather than letting a
    // late tap find out.
    clearTimeout(this.expiryTimer)
    if (res.expires_in > 0) {
      this.expiryTimer = setTimeout(() => {
        if (!this.unloaded && this.data.state === 'ready') this.finish('expired')
      }, res.expires_in * 1000)
    }
  },

  onPick (e) {
    if (this.data.state !== 'ready') return
    this.setData({ picked: String(e.currentTarget.dataset.code) })
  },

  async onConfirm () {
    if (this.data.state !== 'ready') return
    const body = {}
    if (this.data.choices.length) {
      if (!this.data.picked) {
        wx.showToast({ title: 'Tap the number shown on your computer first.', icon: 'none' })
        return
      }
      body.match_code = this.data.picked
    }
    this.setData({ state: 'working' })
    try {
      await api.request({ path: '/api/v1/qr/' + this.scene + '/confirm', method: 'POST', data: body })
    } catch (err) {
      this.fail(err)
      return
    }
    this.finish('confirmed')
  },

  async onDecline () {
    if (this.data.state !== 'ready') return
    this.setData({ state: 'working' })
    try {
      await api.request({ path: '/api/v1/qr/' + this.scene + '/cancel', method: 'POST' })
    } catch (err) {
      // Declining something that can no longer be confirmed still leaves the
      // computer signed out, but say what happened.
      this.fail(err)
      return
    }
    this.finish('declined')
  },

  onRetry () {
    if (this.scene) this.scan()
  },

  onDone () {
    clearTimeout(this.expiryTimer)
    wx.reLaunch({ url: '/pages/index/index' })
  },

  finish (state) {
    clearTimeout(this.expiryTimer)
    const m = MESSAGES[state]
    this.setData({ state, title: m.title, message: m.text, canRetry: false })
  },

  // fail maps an ApiError to what the user sees.
  fail (err) {
    const code = err && err.code
    const status = err && err.status
    if (status === 410 || code === 'scene_expired') return this.finish('expired')
    if (code === 'already_scanned' || code === 'not_scanner') return this.finish('taken')
    if (code === 'scene_final' || code === 'already_redeemed') return this.finish('used')
    if (/match/.test(code || '')) return this.finish('mismatch')
    if (status === 404 || code === 'invalid_scene' || code === 'scene_not_found') return this.finish('invalid')
    let message
    if (!err || err.kind === 'network') {
      message = 'Could not reach the server. Check your network connection and try again.'
    } else if (status === 429) {
      message = 'Too many attempts. Wait ' + (err.retryAfter || 'a few') + ' seconds and try again.'
    } else if (status >= 500) {
      message = 'The server had a problem. Please try again in a moment.'
    } else if (err.kind === 'wechat' || status === 401) {
      message = 'Could not sign you in with WeChat. Please try again.'
    } else {
      message = 'Something went wrong (' + (code || status) + '). Please try again.'
    }
    clearTimeout(this.expiryTimer)
    this.setData({ state: 'error', title: 'Something went wrong', message, canRetry: true })
  }
})
