// Home: who is signed in, a button to scan a computer's sign-in code, and the
// way to the profile page.
const api = require('../../utils/request.js')
const i18n = require('../../utils/i18n.js')
const { sceneFrom } = require('../../utils/scene.js')

/**
 * confirmURLFrom turns a wx.scanCode result into the confirm page URL, or ''.
 * A mini-program code gives res.path ("pages/scan/scan?scene=..."); a plain
 * QR code (link mode, or ?scene=... in dev mode) gives its URL in
 * res.result: read as the confirm page reads what opened it.
 * @param {{path?: string, result?: string}} res
 */
function confirmURLFrom (res) {
  const scene = sceneFrom({ scene: (res && res.path) || '', q: (res && res.result) || '' })
  return scene ? '/pages/scan/scan?scene=' + scene : ''
}

Page({
  data: {
    t: i18n.strings('index'),
    greeting: '',
    signedIn: false,
    // The launch login failed and no user is known: the greeting says so
    // and a tap on it tries again (nothing else would until the next onShow).
    loginFailed: false,
    nickname: '',
    avatar: ''
  },

  onLoad () {
    this.setData({ t: i18n.strings('index') })
    wx.setNavigationBarTitle({ title: this.data.t.navTitle })
  },

  onShow () {
    this.show(api.getUser())
    this.login(false)
  },

  /** @param {boolean} retry */
  login (retry) {
    getApp().whenLoggedIn(retry).then(data => {
      if (data) this.show(api.getUser() || data.user)
      else if (!this.data.signedIn) this.setData({ greeting: this.data.t.signInFailed, loginFailed: true })
    })
  },

  onHelloTap () {
    if (!this.data.loginFailed) return
    this.setData({ greeting: this.data.t.signingIn, loginFailed: false })
    this.login(true)
  },

  /** @param {{nickname?: string, avatar_url?: string} | null} user */
  show (user) {
    const t = this.data.t
    const nickname = (user && user.nickname) || ''
    this.setData({
      loginFailed: false,
      greeting: !user ? t.signingIn : nickname ? i18n.format(t.helloName, { name: nickname }) : t.hello,
      signedIn: !!user,
      nickname: (user && user.nickname) || '',
      avatar: api.absoluteURL((user && user.avatar_url) || '')
    })
  },

  onScan () {
    wx.scanCode({
      onlyFromCamera: true,
      success: res => {
        const url = confirmURLFrom(res)
        if (url) {
          wx.navigateTo({ url })
        } else {
          wx.showToast({ title: this.data.t.notACode, icon: 'none' })
        }
      }
    })
  },

  onProfile () {
    wx.navigateTo({ url: '/pages/profile/profile' })
  }
})
