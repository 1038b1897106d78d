// The one door to the scanlogin server. This is the only file that knows the
// API base URL (from config.js) and the only one that touches the login token.
//
// - Every call carries `Authorization: Bearer <token>`.
// - A 401 invalid_token means the token expired or was revoked: log in again
//   silently (wx.login -> POST /api/v1/mp/login) and retry the call once.
//   Concurrent 401s share one login. Any other 401 (invalid_code: a WeChat
//   code from the phone-number button that was used or is wrong) is the
//   caller's: a new login cannot mend it, and a replay would spend the code
//   again.
// - Network failures and 5xx show a toast and reject with an ApiError.
// - 429 honours Retry-After: short waits are waited out and retried once,
//   longer ones are reported.
// - Any other non-2xx rejects with an ApiError carrying the server's error code
//   ({"error":{"code","message"}}) for the page to explain.
//
// The JSDoc types below are checked by `tsc --checkJs` against WeChat's own
// API typings (npm test, "types"): a method wx.request cannot send, such as
// PATCH, is a type error.
const config = require('../config.js')
const i18n = require('./i18n.js')

/**
 * What wx.request can send (WeChat's list; no PATCH).
 * @typedef {'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT'} Method
 */

/**
 * One call: a JSON request, or (with filePath) a multipart upload.
 * @typedef {object} RequestOptions
 * @property {string} path an API path such as "/api/v1/mp/me"
 * @property {Method} [method] default GET (uploads: POST)
 * @property {string | Record<string, any> | ArrayBuffer} [data] the JSON body (or query for GET)
 * @property {Record<string, string>} [header]
 * @property {boolean} [auth] send the token (default true)
 * @property {boolean} [toast] toast network errors, 429 and 5xx (default true)
 * @property {string} [filePath] a local file: makes the call a wx.uploadFile
 * @property {string} [name] the multipart field (default "file")
 * @property {Record<string, string>} [formData]
 */

/**
 * What once() resolves: uploads have no header (wx.uploadFile gives none).
 * @typedef {{statusCode: number, data: any, header: Record<string, string>}} Exchange
 */

const TOKEN_KEY = 'scanlogin_token'
const USER_KEY = 'scanlogin_user'

class ApiError extends Error {
  /**
   * @param {'network' | 'http' | 'wechat'} kind no HTTP answer, a non-2xx
   *   answer, or wx.login itself failed
   * @param {number} status
   * @param {string} code
   * @param {string} [message]
   * @param {number} [retryAfter] seconds
   */
  constructor (kind, status, code, message, retryAfter) {
    super(message || code || kind)
    this.name = 'ApiError'
    this.kind = kind
    this.status = status || 0
    this.code = code || ''
    this.retryAfter = retryAfter || 0
  }
}

/** @param {string} path */
function apiURL (path) {
  return config.apiBase.replace(/\/+$/, '') + path
}

/**
 * absoluteURL turns a server-relative URL (such as an uploaded avatar's
 * "/api/v1/avatars/ID") into one an <image> can load.
 * @param {string} url
 */
function absoluteURL (url) {
  if (!url) return ''
  if (/^(https?:)?\/\//.test(url) || /^wxfile:|^data:/.test(url)) return url
  return apiURL(url.charAt(0) === '/' ? url : '/' + url)
}

/** @returns {string} */
function getToken () {
  return wx.getStorageSync(TOKEN_KEY) || ''
}

function getUser () {
  return wx.getStorageSync(USER_KEY) || null
}

/**
 * @param {Record<string, string> | undefined} header
 * @param {string} name
 */
function headerValue (header, name) {
  if (!header) return undefined
  const want = name.toLowerCase()
  for (const k in header) {
    if (k.toLowerCase() === want) return header[k]
  }
  return undefined
}

/** @param {Record<string, string> | undefined} header */
function retryAfterSeconds (header) {
  const v = headerValue(header, 'Retry-After')
  if (v === undefined || v === null || v === '') return 1
  const n = Number(v)
  if (!isNaN(n)) return Math.max(0, Math.ceil(n))
  const at = Date.parse(v) // the HTTP-date form
  return isNaN(at) ? 1 : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}

/** @param {number} ms */
function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

/**
 * toast shows one line from the common string table.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
function toast (key, params) {
  wx.showToast({ title: i18n.t('common.' + key, params), icon: 'none', duration: 3000 })
}

/** @param {any} data */
function parseBody (data) {
  if (typeof data !== 'string') return data
  try { return JSON.parse(data) } catch (e) { return data }
}

/**
 * once performs one HTTP exchange, or rejects with a network ApiError.
 * wx.request calls success for any status.
 * @param {RequestOptions} opts
 * @param {string} token
 * @returns {Promise<Exchange>}
 */
function once (opts, token) {
  return new Promise((resolve, reject) => {
    /** @type {Record<string, string>} */
    const header = Object.assign({}, opts.header)
    if (token) header.Authorization = 'Bearer ' + token
    /** @param {{errMsg?: string}} err */
    const fail = err => reject(new ApiError('network', 0, 'network', (err && err.errMsg) || 'network error'))
    if (opts.filePath) {
      wx.uploadFile({
        url: apiURL(opts.path),
        filePath: opts.filePath,
        name: opts.name || 'file',
        formData: opts.formData,
        header,
        timeout: config.timeout,
        // uploadFile gives the body as a string whatever its type, and no
        // response header: a 429's Retry-After cannot be read (the default
        // wait applies).
        success: res => resolve({ statusCode: res.statusCode, data: parseBody(res.data), header: {} }),
        fail
      })
      return
    }
    if (opts.data !== undefined && opts.method && opts.method !== 'GET') {
      header['Content-Type'] = 'application/json'
    }
    wx.request({
      url: apiURL(opts.path),
      method: opts.method || 'GET',
      data: opts.data,
      header,
      timeout: config.timeout,
      success: res => resolve({ statusCode: res.statusCode, data: parseBody(res.data), header: /** @type {Record<string, string>} */ (res.header || {}) }),
      fail
    })
  })
}

/**
 * exchange is once() plus the transport policy shared by every call,
 * including login: network errors and 5xx toast, 429 waits for Retry-After.
 * @param {RequestOptions} opts
 * @param {string} token
 * @returns {Promise<Exchange>}
 */
async function exchange (opts, token) {
  let waited = false
  for (;;) {
    let res
    try {
      res = await once(opts, token)
    } catch (err) {
      if (opts.toast !== false) toast('networkError')
      throw err
    }
    const status = res.statusCode
    if (status === 429) {
      const secs = retryAfterSeconds(res.header)
      if (!waited && secs <= config.maxAutoRetryAfter) {
        waited = true
        await sleep(secs * 1000)
        continue
      }
      if (opts.toast !== false) toast('tooMany', { s: secs })
      throw errorFrom(res, secs)
    }
    if (status >= 500) {
      const secs = headerValue(res.header, 'Retry-After') ? retryAfterSeconds(res.header) : 0
      if (opts.toast !== false) {
        if (secs) toast('serverBusy', { s: secs })
        else toast('serverError')
      }
      throw errorFrom(res, secs)
    }
    return res
  }
}

/**
 * @param {Exchange} res
 * @param {number} retryAfter
 */
function errorFrom (res, retryAfter) {
  const body = res.data && typeof res.data === 'object' ? res.data : {}
  const e = body.error || {}
  return new ApiError('http', res.statusCode, e.code || 'http_' + res.statusCode, e.message || '', retryAfter)
}

/** @returns {Promise<string>} */
function wxLogin () {
  return new Promise((resolve, reject) => {
    wx.login({
      success: res => res.code ? resolve(res.code) : reject(new ApiError('wechat', 0, 'wx_login', res.errMsg)),
      fail: err => reject(new ApiError('wechat', 0, 'wx_login', err && err.errMsg))
    })
  })
}

/** @type {Promise<any> | null} */
let loginInFlight = null

/**
 * login runs wx.login -> POST /api/v1/mp/login and stores the token. Callers
 * arriving while a login is running share it.
 * @returns {Promise<{token: string, user: any, is_new_user: boolean}>}
 */
function login () {
  if (!loginInFlight) {
    loginInFlight = doLogin().then(
      data => { loginInFlight = null; return data },
      err => { loginInFlight = null; throw err })
  }
  return loginInFlight
}

async function doLogin () {
  let code
  try {
    code = await wxLogin()
  } catch (err) {
    toast('wxLoginFailed')
    throw err
  }
  const res = await exchange({ path: '/api/v1/mp/login', method: 'POST', data: { code } }, '')
  if (res.statusCode !== 200 || !res.data || !res.data.token) {
    const err = errorFrom(res, 0)
    // WeChat refused this user (a risky account, 40226): trying again will
    // not help, so say so; anything else may pass on a second try.
    toast(err.code === 'wechat_denied' ? 'signInDenied' : 'signInFailed')
    throw err
  }
  wx.setStorageSync(TOKEN_KEY, res.data.token)
  wx.setStorageSync(USER_KEY, res.data.user)
  return res.data
}

// ensureLogin is the launch-time check: a stored token while WeChat says the
// session is still good, otherwise a fresh login. A token the server no longer
// accepts is replaced by the first request that gets a 401.
function ensureLogin () {
  const token = getToken()
  if (!token) return login()
  return new Promise(resolve => {
    wx.checkSession({ success: () => resolve(true), fail: () => resolve(false) })
  }).then(valid => valid ? { token, user: getUser(), is_new_user: false } : login())
}

/**
 * request calls the API and resolves the parsed body of a 2xx answer (null
 * for 204).
 * @param {RequestOptions} opts
 * @returns {Promise<any>}
 */
async function request (opts) {
  const auth = opts.auth !== false
  let token = ''
  if (auth) {
    token = getToken()
    if (!token) token = (await login()).token
  }
  let res = await exchange(opts, token)
  if (res.statusCode === 401 && auth && tokenRefused(res)) {
    // Another call may already have replaced the token we used.
    const current = getToken()
    token = current && current !== token ? current : (await login()).token
    res = await exchange(opts, token)
  }
  if (res.statusCode >= 200 && res.statusCode < 300) {
    return res.statusCode === 204 ? null : res.data
  }
  throw errorFrom(res, 0)
}

/**
 * tokenRefused tells a 401 about the login token (invalid_token, or no error
 * code at all) from one about something else the request carried.
 * @param {Exchange} res
 */
function tokenRefused (res) {
  const body = res.data && typeof res.data === 'object' ? res.data : {}
  const code = (body.error && body.error.code) || ''
  return code === '' || code === 'invalid_token'
}

/**
 * uploadFile posts a local file as multipart (default field "file").
 * @param {RequestOptions & {filePath: string}} opts
 */
function uploadFile (opts) {
  return request(Object.assign({ method: 'POST', name: 'file' }, opts))
}

/**
 * rememberUser keeps the latest profile (after an edit) for pages that show it.
 * @param {any} user
 */
function rememberUser (user) {
  if (user) wx.setStorageSync(USER_KEY, user)
}

function logout () {
  wx.removeStorageSync(TOKEN_KEY)
  wx.removeStorageSync(USER_KEY)
}

module.exports = {
  ApiError,
  request,
  uploadFile,
  login,
  ensureLogin,
  logout,
  getToken,
  getUser,
  rememberUser,
  absoluteURL,
  retryAfterSeconds,
  TOKEN_KEY,
  USER_KEY
}
