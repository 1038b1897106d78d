// Profile: avatar (chooseAvatar + upload), nickname (input type="nickname"
// read on form submit, after WeChat's own content check), phone number
// (getPhoneNumber code), and the browsers signed in with this account, each
// with a remote "Sign out".
const api = require('../../utils/request.js')
const ua = require('../../utils/ua.js')
const format = require('../../utils/format.js')

function viewUser (user) {
  user = user || {}
  return {
    id: user.id || '',
    nickname: user.nickname || '',
    avatar: api.absoluteURL(user.avatar_url || ''),
    has_phone: !!user.has_phone
  }
}

function viewSession (s) {
  const who = ua.parse(s.user_agent)
  return {
    id: s.id,
    browser: who.browser,
    os: who.os,
    ip: s.ip || 'unknown',
    created: format.dateTime(s.created_at),
    lastSeen: format.ago(s.last_seen_at || s.created_at)
  }
}

Page({
  data: {
    user: viewUser(null),
    phone: '',
    uploading: false,
    saving: false,
    sessions: [],
    sessionsState: 'loading', // loading | ready | error
    signingOut: ''
  },

  onLoad () {
    this.setData({ user: viewUser(api.getUser()) })
  },

  onShow () {
    this.refresh()
  },

  onPullDownRefresh () {
    this.refresh().then(() => wx.stopPullDownRefresh())
  },

  async refresh () {
    await getApp().whenLoggedIn()
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
      this.setData({ sessions: (res.sessions || []).map(viewSession), sessionsState: 'ready' })
    } catch (err) {
      this.setData({ sessionsState: 'error' })
    }
  },

  // e.detail.avatarUrl is a temporary local file: upload it, then make it the
  // profile avatar.
  async onChooseAvatar (e) {
    const filePath = e.detail && e.detail.avatarUrl
    if (!filePath || this.data.uploading) return
    this.setData({ uploading: true })
    try {
      const res = await api.uploadFile({ path: '/api/v1/mp/me/avatar', filePath, name: 'file' })
      const user = await api.request({ path: '/api/v1/mp/me', method: 'PATCH', data: { avatar_url: res.avatar_url } })
      api.rememberUser(user)
      this.setData({ user: viewUser(user) })
      wx.showToast({ title: 'Avatar updated', icon: 'success' })
    } catch (err) {
      if (err.kind === 'http' && err.status === 413) {
        wx.showToast({ title: 'That picture is too large (2 MB max).', icon: 'none' })
      } else if (err.kind === 'http' && err.status < 500 && err.status !== 429) {
        wx.showToast({ title: 'Could not use that picture. Try another one.', icon: 'none' })
      }
    }
    this.setData({ uploading: false })
  },

  // Read the nickname from the form, not from input events: WeChat may clear
  // a nickname that fails its content check after the input loses focus.
  async onSaveNickname (e) {
    const nickname = String((e.detail.value && e.detail.value.nickname) || '').trim()
    if (!nickname) {
      wx.showToast({ title: 'Enter a nickname first.', icon: 'none' })
      return
    }
    if (nickname === this.data.user.nickname) return
    this.setData({ saving: true })
    try {
      const user = await api.request({ path: '/api/v1/mp/me', method: 'PATCH', data: { nickname } })
      api.rememberUser(user)
      this.setData({ user: viewUser(user) })
      wx.showToast({ title: 'Nickname saved', icon: 'success' })
    } catch (err) {
      if (err.kind === 'http' && err.status < 500 && err.status !== 429) {
        wx.showToast({ title: 'That nickname cannot be used.', icon: 'none' })
      }
    }
    this.setData({ saving: false })
  },

  async onGetPhoneNumber (e) {
    const detail = e.detail || {}
    if (!detail.code) {
      if (detail.errno === 1400001) {
        wx.showToast({ title: 'Phone linking is unavailable right now.', icon: 'none' })
      } else if (!/deny|cancel/.test(detail.errMsg || '')) {
        wx.showToast({ title: 'Could not get your phone number.', icon: 'none' })
      }
      return
    }
    try {
      const res = await api.request({ path: '/api/v1/mp/me/phone', method: 'POST', data: { code: detail.code } })
      this.setData({ phone: res.phone_number, 'user.has_phone': true })
      wx.showToast({ title: 'Phone number linked', icon: 'success' })
    } catch (err) {
      if (err.kind === 'http' && err.status < 500 && err.status !== 429) {
        wx.showToast({ title: 'Could not link that phone number. Try again.', icon: 'none' })
      }
    }
  },

  onSignOut (e) {
    const id = e.currentTarget.dataset.id
    const session = this.data.sessions.find(s => s.id === id)
    if (!session || this.data.signingOut) return
    wx.showModal({
      title: 'Sign out this browser?',
      content: session.browser + ' on ' + session.os + ' (IP ' + session.ip + ') will be signed out at once.',
      confirmText: 'Sign out',
      confirmColor: '#fa5151',
      success: res => { if (res.confirm) this.signOut(id) }
    })
  },

  async signOut (id) {
    this.setData({ signingOut: id })
    try {
      await api.request({ path: '/api/v1/mp/sessions/' + encodeURIComponent(id), method: 'DELETE' })
      this.setData({ sessions: this.data.sessions.filter(s => s.id !== id) })
      wx.showToast({ title: 'Signed out', icon: 'success' })
    } catch (err) {
      if (err.kind === 'http' && err.status === 404) {
        // Already gone (expired or signed out elsewhere).
        this.setData({ sessions: this.data.sessions.filter(s => s.id !== id) })
      } else if (err.kind === 'http' && err.status < 500 && err.status !== 429) {
        wx.showToast({ title: 'Could not sign that browser out.', icon: 'none' })
      }
    }
    this.setData({ signingOut: '' })
  }
})
