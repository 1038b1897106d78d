// Profile: avatar (chooseAvatar + upload, then saved with PUT), nickname
// (input type="nickname" read on form submit, after WeChat's own content
// check), phone number (getPhoneNumber code, with why we ask), and the
// browsers signed in with this account, each with a remote 退出登录.
const api = require('../../utils/request.js')
const format = require('../../utils/format.js')
const i18n = require('../../utils/i18n.js')

/** @param {{id?: string, nickname?: string, avatar_url?: string, has_phone?: boolean} | null} user */
function viewUser (user) {
  user = user || {}
  return {
    id: user.id || '',
    nickname: user.nickname || '',
    avatar: api.absoluteURL(user.avatar_url || ''),
    has_phone: !!user.has_phone
  }
}

/**
 * viewSession shows a web session by the server's label for its browser
 * when it gives one, never by the raw User-Agent.
 * @param {{id: string, ip?: string, label?: string, created_at?: string, last_seen_at?: string}} s
 * @param {Record<string, string>} t
 */
function viewSession (s, t) {
  const ip = s.ip || t.unknown
  return {
    id: s.id,
    browser: format.browserLabel(s.label) || t.unknownBrowser,
    ip,
    meta: i18n.format(t.sessionMeta, {
      ip,
      created: format.dateTime(s.created_at),
      lastSeen: format.ago(s.last_seen_at || s.created_at)
    })
  }
}

/**
 * A request failed with a 4xx the user can act on (not the network, 429 or
 * 5xx, which the request helper has already explained in a toast).
 * @param {any} err
 */
function refused (err) {
  return err && err.kind === 'http' && err.status < 500 && err.status !== 429
}

Page({
  data: {
    t: i18n.strings('profile'),
    user: viewUser(null),
    phone: '',
    uploading: false,
    saving: false,
    sessions: /** @type {Array<{id: string, browser: string, ip: string, meta: string}>} */ ([]),
    sessionsState: 'loading', // loading | ready | error
    signingOut: ''
  },

  onLoad () {
    this.setData({ t: i18n.strings('profile'), user: viewUser(api.getUser()) })
    wx.setNavigationBarTitle({ title: this.data.t.navTitle })
  },

  onShow () {
    this.refresh()
  },

  onPullDownRefresh () {
    this.refresh(true).then(() => wx.stopPullDownRefresh())
  },

  // A pull-down is the user asking again: a failed login is tried anew.
  async refresh (retry = false) {
    if (!(await getApp().whenLoggedIn(retry))) {
      this.setData({ sessionsState: 'error' }) // the login's toast said why
      return
    }
    await Promise.all([this.loadMe(), this.loadSessions()])
  },

  async loadMe () {
    try {
      const user = await api.request({ path: '/api/v1/mp/me' })
      api.rememberUser(user)
      this.setData({ user: viewUser(user) })
    } catch (err) {
      // The toast (network / server) has been shown; keep what we had.
    }
  },

  async loadSessions () {
    try {
      const res = await api.request({ path: '/api/v1/mp/sessions' })
      this.setData({ sessions: (res.sessions || []).map(s => viewSession(s, this.data.t)), sessionsState: 'ready' })
    } catch (err) {
      this.setData({ sessionsState: 'error' })
    }
  },

  /**
   * saveProfile is PUT /api/v1/mp/me (wx.request cannot send PATCH).
   * @param {{nickname?: string, avatar_url?: string}} fields
   */
  async saveProfile (fields) {
    const user = await api.request({ path: '/api/v1/mp/me', method: 'PUT', data: fields })
    api.rememberUser(user)
    this.setData({ user: viewUser(user) })
  },

  // e.detail.avatarUrl is a temporary local file: upload it, then save it as
  // the profile avatar. An upload no profile save refers to is deleted by the
  // server after a while.
  /** @param {{detail?: {avatarUrl?: string}}} e */
  async onChooseAvatar (e) {
    const filePath = e.detail && e.detail.avatarUrl
    if (!filePath || this.data.uploading) return
    const t = this.data.t
    this.setData({ uploading: true })
    try {
      const res = await api.uploadFile({ path: '/api/v1/mp/me/avatar', filePath, name: 'file' })
      await this.saveProfile({ avatar_url: res.avatar_url })
      wx.showToast({ title: t.avatarSaved, icon: 'success' })
    } catch (err) {
      if (err.kind === 'http' && err.status === 413) {
        wx.showToast({ title: t.tooLarge, icon: 'none' })
      } else if (refused(err)) {
        wx.showToast({ title: t.badPicture, icon: 'none' })
      }
    }
    this.setData({ uploading: false })
  },

  // Read the nickname from the form, not from input events: WeChat may clear
  // a nickname that fails its content check after the input loses focus.
  /** @param {{detail: {value?: {nickname?: string}}}} e */
  async onSaveNickname (e) {
    const t = this.data.t
    const nickname = String((e.detail.value && e.detail.value.nickname) || '').trim()
    if (!nickname) {
      wx.showToast({ title: t.nicknameEmpty, icon: 'none' })
      return
    }
    if (nickname === this.data.user.nickname) return
    this.setData({ saving: true })
    try {
      await this.saveProfile({ nickname })
      wx.showToast({ title: t.nicknameSaved, icon: 'success' })
    } catch (err) {
      if (refused(err)) wx.showToast({ title: t.nicknameRejected, icon: 'none' })
    }
    this.setData({ saving: false })
  },

  /** @param {{detail?: {code?: string, errno?: number, errMsg?: string}}} e */
  async onGetPhoneNumber (e) {
    const t = this.data.t
    const detail = e.detail || {}
    if (!detail.code) {
      // The user's own refusal says nothing: the phone prompt's (deny,
      // cancel) or the privacy consent's (its errMsg names privacy; errno
      // 104 "privacy permission is not authorized", 112 "api scope is not
      // declared in the privacy agreement").
      const refused = /deny|cancel|privacy/.test(detail.errMsg || '') || detail.errno === 104 || detail.errno === 112
      if (detail.errno === 1400001) {
        wx.showToast({ title: t.phoneUnavailable, icon: 'none' })
      } else if (!refused) {
        wx.showToast({ title: t.phoneFailed, icon: 'none' })
      }
      return
    }
    try {
      const res = await api.request({ path: '/api/v1/mp/me/phone', method: 'POST', data: { code: detail.code } })
      this.setData({ phone: res.phone_number, 'user.has_phone': true })
      wx.showToast({ title: t.phoneLinked, icon: 'success' })
    } catch (err) {
      if (refused(err)) wx.showToast({ title: t.phoneLinkFailed, icon: 'none' })
    }
  },

  // Remote sign-out asks first. The modal's buttons must fit WeChat's 4
  // characters or WeChat shows nothing and runs fail: then say so.
  /** @param {{currentTarget: {dataset: {id?: string}}}} e */
  onSignOut (e) {
    const t = this.data.t
    const id = e.currentTarget.dataset.id
    const session = this.data.sessions.find(s => s.id === id)
    if (!id || !session || this.data.signingOut) return
    wx.showModal({
      title: t.signOutTitle,
      content: i18n.format(t.signOutContent, { browser: session.browser, ip: session.ip }),
      confirmText: t.signOutConfirm,
      confirmColor: '#fa5151',
      success: res => { if (res.confirm) this.signOut(id) },
      fail: () => wx.showToast({ title: t.modalFailed, icon: 'none' })
    })
  },

  /** @param {string} id */
  async signOut (id) {
    const t = this.data.t
    this.setData({ signingOut: id })
    try {
      await api.request({ path: '/api/v1/mp/sessions/' + encodeURIComponent(id), method: 'DELETE' })
      this.setData({ sessions: this.data.sessions.filter(s => s.id !== id) })
      wx.showToast({ title: t.signedOut, icon: 'success' })
    } catch (err) {
      if (err.kind === 'http' && err.status === 404) {
        // Already gone (expired or signed out elsewhere).
        this.setData({ sessions: this.data.sessions.filter(s => s.id !== id) })
      } else if (refused(err)) {
        wx.showToast({ title: t.signOutFailed, icon: 'none' })
      }
    }
    this.setData({ signingOut: '' })
  }
})
