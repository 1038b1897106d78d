// Silent login on launch: keep the stored token while wx.checkSession says
// WeChat's session is good, otherwise wx.login -> POST /api/v1/mp/login. No
// prompt and none of the deprecated profile APIs: the profile page asks for
// avatar and nickname with the fill-in components when the user wants to.
const api = require('./utils/request.js')
const privacy = require('./utils/privacy.js')

// How long a failed login is the answer for every page that asks.
const FAILURE_HOLD_MS = 5000

App({
  globalData: {
    user: null
  },

  // The launch login, shared by every page (see whenLoggedIn); after a
  // failure, its error and when it happened.
  loginReady: /** @type {Promise<any> | null} */ (null),
  loginError: /** @type {any} */ (null),
  loginFailedAt: 0,

  onLaunch () {
    privacy.listen()
    this.whenLoggedIn()
  },

  // whenLoggedIn resolves the login result ({token, user, is_new_user}) or
  // null when it failed (the request helper has already told the user why;
  // loginError says what it was). Pages await it before their first call so
  // launch makes a single login. A failure stands for FAILURE_HOLD_MS, so a
  // page opened with the app does not try again at once (and toast the same
  // refusal again); retry (the user tapped 重试) tries again now.
  whenLoggedIn (retry = false) {
    const failed = this.loginFailedAt > 0
    if (this.loginReady && (!failed || (!retry && Date.now() - this.loginFailedAt < FAILURE_HOLD_MS))) {
      return this.loginReady
    }
    this.loginFailedAt = 0
    this.loginError = null
    this.loginReady = api.ensureLogin().then(data => {
      this.globalData.user = data.user || null
      return data
    }, err => {
      this.loginError = err
      this.loginFailedAt = Date.now()
      return null
    })
    return this.loginReady
  }
})
