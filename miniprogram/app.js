// Silent login on launch: keep the stored token while wx.checkSession says
// WeChat's session is good, otherwise wx.login -> POST /api/v1/mp/login. No
// prompt and none of the deprecated profile APIs: the profile page asks for
// avatar and nickname with the fill-in components when the user wants to.
const api = require('./utils/request.js')
const privacy = require('./utils/privacy.js')

App({
  globalData: {
    user: null
  },

  // The launch login, shared by every page (see whenLoggedIn).
  loginReady: /** @type {Promise<any> | null} */ (null),

  onLaunch () {
    privacy.listen()
    this.whenLoggedIn()
  },

  // whenLoggedIn resolves the login result ({token, user, is_new_user}) or
  // null when it failed (the request helper has already told the user why).
  // Pages await it before their first call so launch makes a single login.
  whenLoggedIn () {
    if (!this.loginReady) {
      this.loginReady = api.ensureLogin().then(data => {
        this.globalData.user = data.user || null
        return data
      }, () => {
        this.loginReady = null // let the next page try again
        return null
      })
    }
    return this.loginReady
  }
})
