'use strict'
// Plain HTTP to the server for what is not the mini-program: the browser that
// shows the QR code, and a second phone acting outside the harness.

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'

async function call (base, method, path, { json, token, headers } = {}) {
  const h = Object.assign({}, headers)
  if (token) h.Authorization = 'Bearer ' + token
  let body
  if (json !== undefined) {
    h['Content-Type'] = 'application/json'
    body = JSON.stringify(json)
  }
  const res = await fetch(base + path, { method, headers: h, body })
  const text = await res.text()
  let data = text
  try { data = JSON.parse(text) } catch (e) { /* not JSON */ }
  return { status: res.status, body: data, headers: res.headers }
}

// createScene is what the login page does: POST /api/v1/qr.
async function createScene (base, userAgent = CHROME_WINDOWS) {
  const r = await call(base, 'POST', '/api/v1/qr', { headers: { 'User-Agent': userAgent } })
  if (r.status !== 201) throw new Error('POST /api/v1/qr: ' + r.status + ' ' + JSON.stringify(r.body))
  return r.body
}

// pollState is the browser's long poll, returning at once when the version
// differs from since.
async function pollState (base, scene, pollToken, since, wait = 5) {
  const q = since === undefined ? '' : '?since=' + since + '&wait=' + wait
  return call(base, 'GET', '/api/v1/qr/' + scene + '/state' + q, { token: pollToken })
}

// waitState polls until the scene reaches want (or a final state).
async function waitState (base, scene, pollToken, want, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs
  let r = await pollState(base, scene, pollToken)
  while (r.status === 200 && r.body.state !== want && Date.now() < deadline) {
    r = await pollState(base, scene, pollToken, r.body.version, 2)
  }
  return r
}

// mpLogin logs a WeChat user in without the harness (another person's phone).
async function mpLogin (base, openid) {
  const c = await call(base, 'POST', '/dev/wechat/login', { json: { openid } })
  if (c.status !== 200) throw new Error('/dev/wechat/login: ' + c.status + ' ' + JSON.stringify(c.body))
  const r = await call(base, 'POST', '/api/v1/mp/login', { json: { code: c.body.code } })
  if (r.status !== 200) throw new Error('/api/v1/mp/login: ' + r.status + ' ' + JSON.stringify(r.body))
  return r.body
}

module.exports = { call, createScene, pollState, waitState, mpLogin, CHROME_WINDOWS }
