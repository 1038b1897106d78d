// Home: who is signed in, a button to scan a computer's sign-in code, and the
// way to the profile page.
const api = require('../../utils/request.js')

// scenePathFrom turns a wx.scanCode result into the confirm page URL, or ''.
// A mini-program code gives res.path ("pages/scan/scan?scene=..."); a plain
// QR code holding a URL with ?scene=... (dev mode) gives res.result.
function confirmURLFrom (res) {
  const text = String((res && (res.path || res.result)) || '')
  const m = text.match(/[?&]scene=([^&#]+)/)
  if (!m) return ''
  let scene = m[1]
  try { scene = decodeURIComponent(scene) } catch (e) { /* keep */ }
  if (!/^[0-9a-fA-F]{32}$/.test(scene)) return ''
  return '/pages/scan/scan?scene=' + encodeURIComponent(scene.toLowerCase())
}

Page({
  data: {
    signedIn: false,
    nickname: '',
    avatar: ''
  },

  onShow () {
    this.show(api.getUser())
    getApp().whenLoggedIn().then(data => {
      if (data) this.show(api.getUser() || data.user)
    })
  },

  show (user) {
    this.setData({
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
          wx.showToast({ title: 'That is not a sign-in code.', icon: 'none' })
        }
      }
    })
  },

  onProfile () {
    wx.navigateTo({ url: '/pages/profile/profile' })
  }
})
