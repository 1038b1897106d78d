// The confirm page the login QR code opens (SCANLOGIN_MP_PAGE, default
// "pages/scan/scan"). It scans the scene as soon as it loads, shows who is
// asking (the server's label for the browser, never its raw User-Agent), and
// lets the user confirm (确认登录) or decline (取消登录).
const api = require('../../utils/request.js')
const format = require('../../utils/format.js')
const i18n = require('../../utils/i18n.js')
const { sceneFrom } = require('../../utils/scene.js')

// The states that end the page, each with a title and text in the string
// table (utils/locales): <state>Title / <state>Text.
const FINAL = ['invalid', 'expired', 'taken', 'used', 'mismatch', 'again', 'confirmed', 'declined']

Page({
  data: {
    // loading | ready | working | confirmed | again | declined | expired |
    // taken | used | mismatch | invalid | error
    state: 'loading',
    t: i18n.strings('scan'),
    heading: '',
    warning: '',
    site: '',
    browser: '',
    ip: '',
    time: '',
    choices: [],
    picked: '',
    // While working: the action being sent ('confirm' | 'decline'), whose
    // button alone shows it is loading.
    sending: '',
    title: '',
    message: '',
    canRetry: false
  },

  // The scene being confirmed, and the timer that shows "expired" when the
  // confirm window closes.
  scene: '',
  // scancodeTime: Unix seconds of the scan, which WeChat gives a page opened
  // by a plain-link code; passed on in the scan body.
  scancodeTime: 0,
  unloaded: false,
  expiryTimer: /** @type {any} */ (0),

  onLoad (options) {
    // The language can differ from the one the page was defined in. Opened
    // by "在微信中打开" (the URL Link's via=link), the browser asking is on
    // this phone: the words speak of it, not of a computer.
    const t = (options || {}).via === 'link'
      ? Object.assign({}, i18n.strings('scan'), i18n.strings('scanLink'))
      : i18n.strings('scan')
    this.setData({ t })
    wx.setNavigationBarTitle({ title: this.data.t.navTitle })
    this.scene = sceneFrom(options || {})
    const st = Number((options || {}).scancode_time)
    this.scancodeTime = Number.isInteger(st) && st > 0 ? st : 0
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

  /** @param {boolean} [retry] the user tapped 重试: log in again if that failed */
  async scan (retry) {
    this.setData({ state: 'loading', canRetry: false })
    const app = getApp()
    if (!(await app.whenLoggedIn(retry === true))) {
      this.fail(app.loginError)
      return
    }
    let res
    try {
      res = await api.request({
        path: '/api/v1/qr/' + this.scene + '/scan',
        method: 'POST',
        data: this.scancodeTime ? { scancode_time: this.scancodeTime } : {}
      })
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
    const t = this.data.t
    const browser = res.browser || {}
    const site = (res.site && res.site.name) || t.thisSite
    this.setData({
      state: 'ready',
      site,
      heading: i18n.format(t.heading, { site }),
      warning: i18n.format(t.warningText, { site }),
      // The server's human label ("Chrome 131 · Windows"); the raw
      // User-Agent is for logs, not for people.
      browser: format.browserLabel(browser.label) || t.unknownBrowser,
      ip: browser.ip || t.unknown,
      time: format.dateTime(browser.created_at),
      choices: res.match_choices || [],
      picked: ''
    })
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
        wx.showToast({ title: this.data.t.pickFirst, icon: 'none' })
        return
      }
      body.match_code = this.data.picked
    }
    this.setData({ state: 'working', sending: 'confirm' })
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
    this.setData({ state: 'working', sending: 'decline' })
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
    if (this.scene) this.scan(true)
  },

  onDone () {
    clearTimeout(this.expiryTimer)
    wx.reLaunch({ url: '/pages/index/index' })
  },

  /** @param {string} state one of FINAL */
  finish (state) {
    clearTimeout(this.expiryTimer)
    if (FINAL.indexOf(state) < 0) throw new Error('scan: no such final state ' + state)
    const t = this.data.t
    this.setData({ state, title: t[state + 'Title'], message: t[state + 'Text'], canRetry: false })
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
    const t = this.data.t
    let message
    if (!err || err.kind === 'network') {
      message = t.errNetwork
    } else if (status === 429) {
      message = err.retryAfter ? i18n.format(t.errRateLimited, { s: err.retryAfter }) : t.errRateLimitedSoon
    } else if (status >= 500) {
      message = t.errServer
    } else if (code === 'wechat_denied') {
      message = t.errDenied
    } else if (err.kind === 'wechat' || status === 401) {
      message = t.errWechat
    } else {
      message = t.errOther
    }
    clearTimeout(this.expiryTimer)
    this.setData({ state: 'error', title: t.errorTitle, message, canRetry: true })
  }
})
