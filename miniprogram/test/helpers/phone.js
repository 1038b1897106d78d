'use strict'
// A "phone": one WeChat user running this mini-program in the harness, with
// the real pages and the real request helper, talking HTTP to a server.

const path = require('node:path')
const { MiniProgram } = require('../harness/runtime.js')
const { createWx } = require('../harness/wx.js')

const ROOT = path.resolve(__dirname, '..', '..')

let seq = 0

// newPhone({server, openid?, nickname?, storage?, apiBase?, language?}): server is the
// scanlogin URL whose fake WeChat mints login codes; apiBase (default server)
// is written into the mini-program's config.js module, the one place the
// mini-program reads its API base from. language is WeChat's (default zh_CN).
function newPhone ({ server, openid, nickname, storage, apiBase, language, privacyAgreed = true }) {
  openid = openid || 'o' + 'test' + Date.now().toString(36) + '_' + (++seq) + Math.random().toString(36).slice(2, 8)
  const { wx, env } = createWx({ wechat: server, openid, nickname, storage, language })
  env.privacy.needAuthorization = !privacyAgreed
  const mp = new MiniProgram({ root: ROOT, wx, env })
  const config = mp.load(path.join(ROOT, 'config.js'))
  config.apiBase = apiBase || server
  return {
    mp,
    wx,
    env,
    config,
    openid,
    // api is the mini-program's own utils/request.js module instance.
    get api () { return mp.load(path.join(ROOT, 'utils', 'request.js')) },
    launch (options) { return mp.launch(options) },
    open (route, query) { return mp.openPage(route, query) }
  }
}

module.exports = { newPhone, ROOT }
