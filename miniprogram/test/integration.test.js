'use strict'
// The mini-program's real pages against the real server: a private
// redis-server, the scanlogin binary built from this checkout in dev mode,
// HTTP all the way. See helpers/stack.js for the setup and harness/ for how
// the pages run.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const stackHelper = require('./helpers/stack.js')
const { newPhone, ROOT } = require('./helpers/phone.js')
const { call, createScene, pollState, waitState, mpLogin, CHROME_WINDOWS } = require('./helpers/http.js')
const redis = require('./helpers/redis.js')
const { failOnViolations } = require('./helpers/strict.js')

const SITE = 'Acme Test Shop'
// A real 8x8 PNG (the server sniffs the bytes).
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEklEQVR4nGP4z8CAFWEXHbQSACj/P8Fu7N9hAAAAAElFTkSuQmCC', 'base64')

let stack
let server
const phones = []

function phone (opts = {}) {
  const p = newPhone(Object.assign({ server }, opts))
  phones.push(p)
  return p
}

// launched gives a phone whose app has launched and logged in.
async function launched (opts) {
  const p = phone(opts)
  const app = p.launch()
  const data = await app.whenLoggedIn()
  assert.ok(data && data.token, 'silent login failed: ' + JSON.stringify(p.env.toasts))
  return p
}

function token (p) {
  return p.api.getToken()
}

// mpTokenKey is where the server keeps a mini-program token
// ("<user id>.<secret>"): in its user's hash slot, under the token's SHA-256.
// Only this test knows the layout; the pages treat the token as opaque.
function mpTokenKey (t) {
  const user = t.slice(0, t.indexOf('.'))
  return 'sl:user:{' + user + '}:mpt:' + crypto.createHash('sha256').update(t).digest('hex')
}

async function deadURL () {
  const srv = net.createServer()
  await new Promise(resolve => srv.listen(0, '127.0.0.1', resolve))
  const url = 'http://127.0.0.1:' + srv.address().port
  await new Promise(resolve => srv.close(resolve))
  return url
}

// shownLabel is what the pages must show for a browser: the server's label
// ("Chrome 131 · Windows 10/11"), never the raw User-Agent. The server labels
// every browser it knows, and these tests sign in as Chrome on Windows.
function shownLabel (browser) {
  assert.ok(browser && /^Chrome \d+ · Windows/.test(browser.label), 'the server labels the browser: ' + JSON.stringify(browser))
  return browser.label
}

// answerOf is the parsed body of the mini-program's last call to a URL ending
// in suffix, as the harness recorded it.
function answerOf (p, suffix) {
  const r = p.env.requests.filter(q => q.url.endsWith(suffix)).pop()
  assert.ok(r, 'no request to ' + suffix)
  return r.body
}

// signedInBrowser signs a Chrome on Windows in as p's user (scan, confirm,
// redeem over HTTP) and returns the browser's tokens.
async function signedInBrowser (p) {
  const scene = await createScene(server, CHROME_WINDOWS)
  for (const step of ['scan', 'confirm']) {
    const r = await call(server, 'POST', '/api/v1/qr/' + scene.scene + '/' + step, { token: token(p) })
    assert.equal(r.status, 200, step + ': ' + JSON.stringify(r.body))
  }
  // The same browser redeems: its User-Agent is the session's.
  const web = await call(server, 'POST', '/api/v1/qr/' + scene.scene + '/redeem', { token: scene.poll_token, headers: { 'User-Agent': CHROME_WINDOWS } })
  assert.equal(web.status, 200, JSON.stringify(web.body))
  assert.equal((await call(server, 'GET', '/api/v1/me', { token: web.body.access_token })).status, 200)
  return web.body
}

// openScan opens the confirm page the way a scan does: options.scene is the
// URL-encoded scene.
function openScan (p, scene) {
  return p.open('pages/scan/scan', { scene: encodeURIComponent(scene) })
}

before(async () => {
  stack = await stackHelper.start({ SCANLOGIN_SITE_NAME: SITE })
  server = stack.url
}, { timeout: 600000 })

failOnViolations(phones)

after(async () => {
  for (const p of phones) for (const pg of [...p.mp.stack]) pg.close()
  if (stack) await stack.stop()
})

describe('silent login', () => {
  it('creates the user on first launch and stores the token', async () => {
    const p = phone()
    const data = await p.launch().whenLoggedIn()
    assert.equal(data.is_new_user, true)
    assert.equal(p.env.calls.login, 1)
    const stored = token(p)
    assert.ok(stored && stored === data.token, 'token in wx storage')
    assert.equal(p.api.getUser().id, data.user.id)
    const me = await call(server, 'GET', '/api/v1/mp/me', { token: stored })
    assert.equal(me.status, 200, JSON.stringify(me.body))
    assert.equal(me.body.id, data.user.id)
    assert.equal(p.mp.app.globalData.user.id, data.user.id)
  })

  it('reuses the stored token on the next launch while wx.checkSession succeeds', async () => {
    const first = await launched()
    const again = phone({ openid: first.openid, storage: first.env.storage })
    again.env.sessionValid = true
    await again.launch().whenLoggedIn()
    const me = await again.api.request({ path: '/api/v1/mp/me' })
    assert.equal(again.env.calls.login, 0, 'no wx.login')
    assert.equal(again.env.calls.checkSession, 1)
    assert.equal(token(again), token(first))
    assert.equal(me.id, first.api.getUser().id)
  })

  it('logs in again, as the same user, when wx.checkSession fails', async () => {
    const first = await launched()
    const again = phone({ openid: first.openid, storage: first.env.storage })
    const data = await again.launch().whenLoggedIn()
    assert.equal(again.env.calls.login, 1)
    assert.equal(data.is_new_user, false)
    assert.equal(data.user.id, first.api.getUser().id)
    assert.notEqual(token(again), '')
  })

  it('replaces a revoked token transparently on the next request', async () => {
    const p = await launched()
    const old = token(p)
    assert.equal(await redis.command(stack.redis.port, 'DEL', mpTokenKey(old)), 1, 'the mp token key (engine layout sl:user:{<user>}:mpt:<sha256>)')
    const before401 = await call(server, 'GET', '/api/v1/mp/me', { token: old })
    assert.equal(before401.status, 401)
    const me = await p.api.request({ path: '/api/v1/mp/me' })
    assert.equal(me.id, p.api.getUser().id)
    assert.notEqual(token(p), old)
    assert.equal(p.env.calls.login, 2)
    const statuses = p.env.requests.filter(r => r.url.endsWith('/api/v1/mp/me')).map(r => r.status)
    assert.deepEqual(statuses, [401, 200])
  })

  it('replaces an expired token once for concurrent requests (one shared login)', async () => {
    const short = await stack.startServer({ SCANLOGIN_MP_TOKEN_TTL: '1s' })
    const p = await launched({ apiBase: short.url })
    const old = token(p)
    await new Promise(resolve => setTimeout(resolve, 1200))
    assert.equal((await call(short.url, 'GET', '/api/v1/mp/me', { token: old })).status, 401, 'the token has expired')
    const results = await Promise.all([
      p.api.request({ path: '/api/v1/mp/me' }),
      p.api.request({ path: '/api/v1/mp/sessions' }),
      p.api.request({ path: '/api/v1/mp/me' })
    ])
    assert.equal(results[0].id, p.api.getUser().id)
    assert.ok(Array.isArray(results[1].sessions))
    assert.equal(p.env.calls.login, 2, 'launch + exactly one re-login')
    assert.notEqual(token(p), old)
    const first = p.env.requests.filter(r => r.auth === 'Bearer ' + old).map(r => r.status)
    assert.deepEqual(first, [401, 401, 401], 'all three met the expired token')
  })
})

describe('confirm page', () => {
  it('shows who is asking, then Confirm (a tap) signs the browser in', async () => {
    const scene = await createScene(server, CHROME_WINDOWS)
    const p = await launched()
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'ready', { what: 'scan' })

    const scanAnswer = answerOf(p, '/scan')
    const browserText = page.textOf(page.get('#browser'))
    assert.equal(browserText, shownLabel(scanAnswer.browser))
    assert.ok(!page.text().includes('Mozilla') && !page.text().includes(CHROME_WINDOWS), 'never the raw User-Agent')
    assert.equal(page.textOf(page.get('#ip')), '127.0.0.1')
    assert.equal(page.textOf(page.get('#site')), SITE)
    assert.match(page.textOf(page.get('#time')), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    assert.equal(page.textOf(page.get('#heading')), '确认在电脑上登录 ' + SITE + '？')
    const warning = page.textOf(page.get('#warning'))
    assert.match(warning, /只确认你眼前屏幕上的二维码/)
    assert.match(warning, /显示在你面前的屏幕上/)
    assert.match(warning, new RegExp(SITE + ' 不会通过短信、邮件或聊天发送登录二维码'))
    // Anyone can get a scene's "open in WeChat" link (GET /api/v1/qr/{scene}/link)
    // and send it: the warning names links as well as codes.
    assert.match(warning, /发送登录二维码或链接/)
    assert.match(warning, /如果有人把二维码或链接发给你/)
    assert.equal(p.env.title, '登录确认')
    assert.equal(page.query('#match'), null, 'no number choices when number matching is off')

    const decline = page.button('取消登录')
    const confirm = page.button('确认登录')
    assert.ok(!decline.attrs.disabled && !confirm.attrs.disabled)
    assert.equal(decline.attrs.size, confirm.attrs.size)

    const scanned = await waitState(server, scene.scene, scene.poll_token, 'scanned')
    assert.equal(scanned.body.state, 'scanned')

    await page.tap(confirm)
    await page.waitFor(() => page.data.state === 'confirmed', { what: 'confirmed' })
    assert.match(page.text(), /已在电脑上登录/)

    const polled = await waitState(server, scene.scene, scene.poll_token, 'confirmed')
    assert.equal(polled.status, 200)
    assert.equal(polled.body.state, 'confirmed')
    const redeemed = await call(server, 'POST', '/api/v1/qr/' + scene.scene + '/redeem', { token: scene.poll_token })
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body))
    assert.equal(redeemed.body.user.id, p.api.getUser().id)
    const me = await call(server, 'GET', '/api/v1/me', { token: redeemed.body.access_token })
    assert.equal(me.status, 200)
    assert.equal(me.body.id, p.api.getUser().id)
    page.close()
  })

  it('opened by the "open in WeChat" link, asks about the browser on this phone, then Confirm signs it in', async () => {
    // The link the page's 在微信中打开 leads to, as the server made it, and
    // what tapping it opens (dev mode's fake WeChat answers with the page's
    // query, as WeChat opens the confirm page with it).
    const scene = await createScene(server, CHROME_WINDOWS)
    const link = await call(server, 'GET', '/api/v1/qr/' + scene.scene + '/link', { headers: { Accept: 'application/json' } })
    assert.equal(link.status, 200, JSON.stringify(link.body))
    const opened = await fetch(link.body.url_link, { redirect: 'manual' })
    assert.equal(opened.status, 302)
    const options = Object.fromEntries(new URL(opened.headers.get('location')).searchParams)
    assert.equal(options.via, 'link')

    const p = await launched()
    const page = p.open('pages/scan/scan', options)
    await page.waitFor(() => page.data.state === 'ready', { what: 'scan' })
    assert.equal(page.textOf(page.get('#heading')), '确认在手机浏览器中登录 ' + SITE + '？')
    const warning = page.textOf(page.get('#warning'))
    assert.match(warning, /只确认你本人刚刚发起的登录/)
    assert.match(warning, /在这部手机的浏览器里打开 Acme Test Shop 的登录页，并点了“在微信中打开”/)
    assert.match(warning, /如果链接是别人发给你的，请点“取消登录”/)
    assert.ok(!/电脑|二维码/.test(page.text()), 'no computer or code on this path: ' + page.text())

    await page.tap(page.button('确认登录'))
    await page.waitFor(() => page.data.state === 'confirmed', { what: 'confirmed' })
    assert.match(page.text(), /已确认登录/)
    assert.match(page.text(), /现在可以回到浏览器了/)
    assert.ok(!/电脑/.test(page.text()), page.text())
    const polled = await waitState(server, scene.scene, scene.poll_token, 'confirmed')
    assert.equal(polled.body.state, 'confirmed')
    page.close()
  })

  it('Decline cancels the scene', async () => {
    const scene = await createScene(server)
    const p = await launched()
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'ready', { what: 'scan' })
    await page.tap(page.get('button#decline'))
    await page.waitFor(() => page.data.state === 'declined', { what: 'declined' })
    assert.match(page.text(), /已取消登录/)
    const polled = await waitState(server, scene.scene, scene.poll_token, 'cancelled')
    assert.equal(polled.body.state, 'cancelled')
    const redeem = await call(server, 'POST', '/api/v1/qr/' + scene.scene + '/redeem', { token: scene.poll_token })
    assert.notEqual(redeem.status, 200)
    page.close()
  })

  it('says when the code was already scanned by someone else', async () => {
    const scene = await createScene(server)
    const other = await mpLogin(server, 'o_other_' + Date.now())
    const r = await call(server, 'POST', '/api/v1/qr/' + scene.scene + '/scan', { token: other.token })
    assert.equal(r.status, 200, JSON.stringify(r.body))

    const p = await launched()
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'taken', { what: 'taken' })
    assert.match(page.text(), /二维码已被其他微信扫描/)
    assert.equal(page.query('button#confirm'), null, 'nothing to confirm')
    assert.ok(page.query('button#done'))
    const polled = await pollState(server, scene.scene, scene.poll_token)
    assert.equal(polled.body.state, 'scanned', 'the other scan stands')
    page.close()
  })

  it('says when the code was already confirmed or used', async () => {
    const scene = await createScene(server)
    const p = await launched()
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'ready')
    await page.tap('#confirm')
    await page.waitFor(() => page.data.state === 'confirmed')
    page.close()
    // The same code scanned a second time, before the browser redeemed ...
    const again = openScan(p, scene.scene)
    await again.waitFor(() => again.data.state === 'again', { what: 'already confirmed' })
    assert.match(again.text(), /你已确认过这次登录/)
    assert.equal(again.query('button#confirm'), null)
    again.close()
    // ... and after.
    const redeemed = await call(server, 'POST', '/api/v1/qr/' + scene.scene + '/redeem', { token: scene.poll_token })
    assert.equal(redeemed.status, 200)
    const late = openScan(p, scene.scene)
    await late.waitFor(() => late.data.state === 'used', { what: 'used' })
    assert.match(late.text(), /二维码已失效/)
    late.close()
  })

  it('says when the code has expired', async () => {
    const short = await stack.startServer({ SCANLOGIN_SCENE_TTL: '1s' })
    const scene = await createScene(short.url)
    const p = await launched({ apiBase: short.url })
    await new Promise(resolve => setTimeout(resolve, Math.max(1500, scene.expires_in * 1000 + 300)))
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'expired', { what: 'expired' })
    assert.match(page.text(), /登录确认已过期/)
    assert.match(page.text(), /刷新二维码后重新扫码/)
    const polled = await pollState(short.url, scene.scene, scene.poll_token)
    assert.equal(polled.body.state, 'expired')
    page.close()
  })

  it('turns to expired by itself when the confirm window closes', async () => {
    const quick = await stack.startServer({ SCANLOGIN_CONFIRM_WINDOW: '1s' })
    const scene = await createScene(quick.url)
    const p = await launched({ apiBase: quick.url })
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'ready')
    await page.waitFor(() => page.data.state === 'expired', { what: 'expiry on screen', timeout: 5000 })
    assert.equal(page.query('button#confirm'), null)
    assert.equal((await pollState(quick.url, scene.scene, scene.poll_token)).body.state, 'expired')
    page.close()
  })

  it('shows a network failure with a retry button that works', async () => {
    const scene = await createScene(server)
    const p = phone({ apiBase: await deadURL() })
    p.launch()
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'error', { what: 'network error' })
    assert.match(page.text(), /无法连接服务器/)
    assert.ok(p.env.toasts.some(t => /网络不给力/.test(t.title)), 'toast: ' + JSON.stringify(p.env.toasts))
    p.config.apiBase = server // the network is back
    await page.tap(page.button('重试'))
    await page.waitFor(() => page.data.state === 'ready', { what: 'scan after retry' })
    await page.tap('#decline')
    await page.waitFor(() => page.data.state === 'declined')
    page.close()
  })

  it('with number matching, Confirm needs the number the browser shows', async () => {
    const nm = await stack.startServer({ SCANLOGIN_NUMBER_MATCH: 'on' })
    const scene = await createScene(nm.url)
    assert.equal(scene.number_match, true)
    const p = await launched({ apiBase: nm.url })
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'ready', { what: 'scan' })
    const choices = page.queryAll('button[bindtap=onPick]')
    assert.equal(choices.length, 3)
    assert.ok(choices.some(c => page.textOf(c) === scene.match_code), 'the browser\'s code is among the choices')
    await assert.rejects(page.tap('#confirm'), /disabled/, 'Confirm waits for a pick')
    assert.ok(!page.get('#decline').attrs.disabled, 'Decline never waits')
    await page.tap(choices.find(c => page.textOf(c) === scene.match_code))
    await page.tap('#confirm')
    await page.waitFor(() => page.data.state === 'confirmed')
    assert.equal((await waitState(nm.url, scene.scene, scene.poll_token, 'confirmed')).body.state, 'confirmed')
    page.close()

    const wrong = await createScene(nm.url)
    const page2 = openScan(p, wrong.scene)
    await page2.waitFor(() => page2.data.state === 'ready')
    const bad = page2.queryAll('button[bindtap=onPick]').find(c => page2.textOf(c) !== wrong.match_code)
    await page2.tap(bad)
    await page2.tap('#confirm')
    await page2.waitFor(() => page2.data.state === 'mismatch', { what: 'mismatch' })
    assert.match(page2.text(), /数字不一致/)
    assert.equal((await pollState(nm.url, wrong.scene, wrong.poll_token)).body.state, 'cancelled')
    page2.close()
  })
})

describe('rate limits (429 with Retry-After, from the real limiter)', () => {
  it('waits out a short Retry-After and retries once', async () => {
    const p = await launched()
    const scene = await createScene(server)
    // Spend this user's scan burst (SCANLOGIN_RATE_LIMITS default scan=20/min).
    let r
    for (let i = 0; i < 50; i++) {
      r = await call(server, 'POST', '/api/v1/qr/' + scene.scene + '/scan', { token: token(p) })
      if (r.status === 429) break
    }
    assert.equal(r.status, 429, 'the scan limit never answered 429')
    const wait = Number(r.headers.get('retry-after'))
    assert.ok(wait >= 1 && wait <= p.config.maxAutoRetryAfter, 'Retry-After ' + wait)
    const started = Date.now()
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'ready', { what: 'scan after waiting', timeout: 15000 })
    const scans = p.env.requests.filter(q => q.url.endsWith('/scan')).map(q => q.status)
    assert.deepEqual(scans, [429, 200])
    assert.ok(Date.now() - started >= (wait - 1) * 1000, 'waited for Retry-After')
    page.close()
  })

  it('reports a long Retry-After instead of waiting', async () => {
    const strict = await stack.startServer({ SCANLOGIN_RATE_LIMITS: stackHelper.LIMITS + ',scan=1' })
    const p = await launched({ apiBase: strict.url })
    const first = await createScene(strict.url)
    const page = openScan(p, first.scene)
    await page.waitFor(() => page.data.state === 'ready')
    page.close()
    const second = await createScene(strict.url)
    const page2 = openScan(p, second.scene)
    await page2.waitFor(() => page2.data.state === 'error', { what: 'rate limited' })
    assert.match(page2.text(), /操作太频繁，请 \d+ 秒后再试。/)
    assert.ok(page2.query('button#retry'))
    assert.match(p.env.lastToast().title, /^操作太频繁，请 \d+ 秒后再试$/)
    assert.deepEqual(p.env.requests.filter(q => q.url.endsWith('/scan')).map(q => q.status), [200, 429])
    page2.close()
  })
})

describe('profile page', () => {
  it('asks for privacy consent, then uploads the avatar and saves it and the nickname with PUT, and links the phone', async () => {
    const p = await launched({ privacyAgreed: false })
    const page = p.open('pages/profile/profile')
    await page.waitFor(() => page.data.sessionsState === 'ready', { what: 'profile loaded' })
    assert.equal(page.query('#agree-btn'), null, 'no popup before it is needed')

    const file = path.join(stack.dir, 'avatar.png')
    fs.writeFileSync(file, PNG)
    p.env.avatarFile = file
    const tapping = page.tap('#avatar-btn')
    await page.waitFor(() => page.query('#agree-btn'), { what: 'privacy popup' })
    assert.match(page.text(), /用户隐私保护提示/)
    assert.match(page.text(), /《扫码登录小程序隐私保护指引》/, 'the contract name WeChat gives')
    await page.tap('#agree-btn')
    await tapping
    await page.waitFor(() => page.data.user.avatar && !page.data.uploading, { what: 'avatar uploaded' })
    assert.equal(page.query('#agree-btn'), null, 'popup closed')
    assert.deepEqual(p.env.privacy.prompts, ['chooseAvatar'])
    assert.deepEqual(p.env.toasts.map(t => t.title), ['头像已更新'])
    const saves = p.env.requests.filter(r => r.url.endsWith('/api/v1/mp/me') && r.method !== 'GET')
    assert.deepEqual(saves.map(r => [r.method, r.status]), [['PUT', 200]], 'the avatar is saved with PUT')

    let me = await call(server, 'GET', '/api/v1/mp/me', { token: token(p) })
    assert.equal(me.status, 200)
    assert.ok(me.body.avatar_url, 'avatar_url set: ' + JSON.stringify(me.body))
    assert.equal(page.get('#avatar').attrs.src, p.api.absoluteURL(me.body.avatar_url))
    const img = await fetch(p.api.absoluteURL(me.body.avatar_url))
    assert.equal(img.status, 200)
    assert.match(img.headers.get('content-type'), /image\/png/)
    // Stored re-encoded (pixels only, no metadata): a PNG of the same size.
    const served = Buffer.from(await img.arrayBuffer())
    assert.deepEqual(served.subarray(0, 8), PNG.subarray(0, 8), 'a PNG')
    assert.equal(served.readUInt32BE(16), 8, 'width')
    assert.equal(served.readUInt32BE(20), 8, 'height')

    await page.type('#nickname', 'Ada Lovelace')
    await page.tap('#save-nickname')
    await page.waitFor(() => page.data.user.nickname === 'Ada Lovelace' && !page.data.saving, { what: 'nickname saved' })
    me = await call(server, 'GET', '/api/v1/mp/me', { token: token(p) })
    assert.equal(me.body.nickname, 'Ada Lovelace')
    assert.equal(p.env.lastToast().title, '昵称已保存')
    assert.deepEqual(p.env.requests.filter(r => r.url.endsWith('/api/v1/mp/me') && r.method !== 'GET').map(r => [r.method, r.status]),
      [['PUT', 200], ['PUT', 200]], 'the nickname is saved with PUT')

    const code = await call(server, 'POST', '/dev/wechat/phonecode', { json: { openid: p.openid, phone_number: '13800138000' } })
    assert.equal(code.status, 200, JSON.stringify(code.body))
    p.env.phoneCode = code.body.code
    await page.tap('#phone-btn')
    await page.waitFor(() => page.data.phone, { what: 'phone linked' })
    assert.match(page.data.phone, /8000$/)
    assert.ok(!page.data.phone.includes('13800138000'), 'masked')
    assert.equal(page.textOf(page.get('#phone')), page.data.phone)
    assert.equal(p.env.lastToast().title, '手机号已绑定')
    assert.match(page.textOf(page.get('#phone-purpose')), /登录的网站在需要时可以获得这个经微信验证的手机号/, 'says why it asks')
    me = await call(server, 'GET', '/api/v1/mp/me', { token: token(p) })
    assert.equal(me.body.has_phone, true)
    page.close()
  })

  it('declining privacy consent uploads nothing', async () => {
    const p = await launched({ privacyAgreed: false })
    const page = p.open('pages/profile/profile')
    await page.waitFor(() => page.data.sessionsState === 'ready')
    p.env.avatarFile = path.join(stack.dir, 'avatar.png')
    fs.writeFileSync(p.env.avatarFile, PNG)
    const tapping = page.tap('#avatar-btn')
    await page.waitFor(() => page.query('#disagree-btn'), { what: 'privacy popup' })
    await page.tap('#disagree-btn')
    await tapping
    assert.equal(p.env.calls.uploadFile, 0)
    assert.equal(page.query('#agree-btn'), null)
    // The phone button, declined the same way: the user's choice, no error.
    const phoneTap = page.tap('#phone-btn')
    await page.waitFor(() => page.query('#disagree-btn'), { what: 'privacy popup for the phone number' })
    await page.tap('#disagree-btn')
    await phoneTap
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.deepEqual(p.env.toasts, [], 'no toast for a refusal')
    page.close()
  })

  it('explains a picture the server refuses', async () => {
    const p = await launched()
    const page = p.open('pages/profile/profile')
    await page.waitFor(() => page.data.sessionsState === 'ready')
    p.env.avatarFile = path.join(stack.dir, 'not-an-image.png')
    fs.writeFileSync(p.env.avatarFile, 'this is text, not a PNG')
    await page.tap('#avatar-btn')
    await page.waitFor(() => !page.data.uploading && p.env.calls.uploadFile === 1, { what: 'upload answered' })
    await page.waitFor(() => p.env.lastToast(), { what: 'a toast' })
    assert.equal(p.env.lastToast().title, '无法使用这张图片，请换一张')
    const upload = p.env.requests.find(r => r.url.endsWith('/api/v1/mp/me/avatar'))
    assert.equal(upload.status, 415)
    assert.equal(page.query('#avatar'), null, 'no avatar set')
    page.close()
  })

  it('lists the signed-in browser and signs it out remotely', async () => {
    const p = await launched()
    const web = await signedInBrowser(p)
    const page = p.open('pages/profile/profile')
    await page.waitFor(() => page.data.sessions.length === 1, { what: 'one session' })
    const id = page.data.sessions[0].id
    const row = page.get('#session-' + id)
    const listed = answerOf(p, '/api/v1/mp/sessions').sessions[0]
    assert.equal(page.textOf(page.get('.session-name')), shownLabel(listed))
    assert.ok(!page.textOf(row).includes('Mozilla'), 'never the raw User-Agent')
    assert.match(page.textOf(row), /IP 127\.0\.0\.1 · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 登录 · 刚刚活跃/)

    await page.tap(page.get('button[data-id=' + id + ']'))
    assert.equal(p.env.modals.length, 1, 'asks before signing out: ' + JSON.stringify(p.env.violations))
    assert.deepEqual(p.env.modals[0], { title: '让这个浏览器退出登录？', content: shownLabel(listed) + '（IP 127.0.0.1）会立即退出登录。', confirmText: '退出登录', cancelText: undefined })
    await page.waitFor(() => page.data.sessions.length === 0 && !page.data.signingOut, { what: 'signed out' })
    assert.ok(page.query('#no-sessions'))

    const me = await call(server, 'GET', '/api/v1/me', { token: web.access_token })
    assert.equal(me.status, 401, 'the web token is dead: ' + JSON.stringify(me.body))
    const list = await call(server, 'GET', '/api/v1/mp/sessions', { token: token(p) })
    assert.deepEqual(list.body.sessions, [])
    assert.equal(p.env.lastToast().title, '已退出登录')
    page.close()
  })

  it('says so when WeChat cannot show the sign-out question', async () => {
    const p = await launched()
    const web = await signedInBrowser(p)
    const page = p.open('pages/profile/profile')
    await page.waitFor(() => page.data.sessions.length === 1, { what: 'one session' })
    p.env.modalFails = 'showModal:fail another modal is showing' // WeChat can fail a modal for reasons of its own
    await page.tap(page.get('button.sign-out'))
    await page.waitFor(() => p.env.lastToast(), { what: 'a toast' })
    assert.equal(p.env.lastToast().title, '无法打开确认框，请重试')
    assert.equal(page.data.sessions.length, 1, 'nothing signed out')
    assert.equal((await call(server, 'GET', '/api/v1/me', { token: web.access_token })).status, 200)
    page.close()
  })
})

describe('home page', () => {
  it('greets the user and opens the confirm page from a scanned code', async () => {
    const p = await launched()
    const page = p.open('pages/index/index')
    await page.waitFor(() => page.data.signedIn, { what: 'signed in' })
    assert.match(page.text(), /你好/)
    assert.equal(p.env.title, '扫码登录')
    const scene = '0123456789abcdef0123456789abcdef'
    p.env.scanResult = { path: 'pages/scan/scan?scene=' + scene, result: '', scanType: 'WX_CODE' }
    await page.tap('#scan-btn')
    await page.waitFor(() => p.env.navigations.length === 1)
    assert.deepEqual(p.env.navigations[0], { type: 'navigateTo', url: '/pages/scan/scan?scene=' + scene })
    await page.tap('#profile-btn')
    assert.deepEqual(p.env.navigations[1], { type: 'navigateTo', url: '/pages/profile/profile' })
    page.close()
  })

  it('opens the confirm page from a plain QR code of every link form, and refuses any other code', async () => {
    const p = await launched()
    const page = p.open('pages/index/index')
    await page.waitFor(() => page.data.signedIn, { what: 'signed in' })
    const scene = 'abcdef0123456789abcdef0123456789'
    const links = [
      'https://login.example.com/s/' + scene, // SCANLOGIN_QR_LINK_PREFIX ending in /
      'https://login.example.com/l?t=' + scene.toUpperCase(), // ending in =
      'http://127.0.0.1:8080/dev/phone?scene=' + scene // the dev simulator's link
    ]
    for (const [i, result] of links.entries()) {
      p.env.scanResult = { result, scanType: 'QR_CODE' }
      await page.tap('#scan-btn')
      await page.waitFor(() => p.env.navigations.length === i + 1, { what: 'navigation for ' + result })
      assert.deepEqual(p.env.navigations[i], { type: 'navigateTo', url: '/pages/scan/scan?scene=' + scene })
    }
    p.env.scanResult = { result: 'https://example.com/hello', scanType: 'QR_CODE' }
    await page.tap('#scan-btn')
    await page.waitFor(() => p.env.lastToast(), { what: 'a toast' })
    assert.equal(p.env.lastToast().title, '这不是登录二维码')
    assert.equal(p.env.navigations.length, links.length)
    page.close()
  })
})

describe('language', () => {
  it('the same flow in English when WeChat is in English', async () => {
    const p = await launched({ language: 'en' })
    const home = p.open('pages/index/index')
    await home.waitFor(() => home.data.signedIn)
    assert.match(home.text(), /Hello/)
    assert.equal(p.env.title, 'Sign in')
    home.close()

    const scene = await createScene(server, CHROME_WINDOWS)
    const page = openScan(p, scene.scene)
    await page.waitFor(() => page.data.state === 'ready', { what: 'scan' })
    assert.equal(p.env.title, 'Confirm sign-in')
    assert.equal(page.textOf(page.get('#heading')), 'Sign in to ' + SITE + ' on a computer?')
    assert.equal(page.textOf(page.get('#browser')), shownLabel(answerOf(p, '/scan').browser))
    assert.match(page.textOf(page.get('#warning')), new RegExp(SITE + ' never sends sign-in codes or links by message or email: if someone sent you this code or link'))
    await page.tap(page.button('Confirm'))
    await page.waitFor(() => page.data.state === 'confirmed')
    assert.match(page.text(), /Signed in on your computer/)
    page.close()
    const redeemed = await call(server, 'POST', '/api/v1/qr/' + scene.scene + '/redeem', { token: scene.poll_token, headers: { 'User-Agent': CHROME_WINDOWS } })
    assert.equal(redeemed.status, 200)

    const profile = p.open('pages/profile/profile')
    await profile.waitFor(() => profile.data.sessions.length === 1, { what: 'one session' })
    assert.equal(p.env.title, 'My account')
    assert.match(profile.textOf(profile.get('.session')), /IP 127\.0\.0\.1 · signed in \d{4}-\d\d-\d\d \d\d:\d\d:\d\d · active just now/)
    assert.match(profile.textOf(profile.get('#phone-purpose')), /Websites you sign in to with this account can receive this WeChat-verified number/)
    await profile.tap(profile.button('Sign out'))
    assert.deepEqual(p.env.modals[0], {
      title: 'Sign out this browser?',
      content: shownLabel(answerOf(p, '/api/v1/mp/sessions').sessions[0]) + ' (IP 127.0.0.1) will be signed out at once.',
      confirmText: 'Yes',
      cancelText: undefined
    })
    await profile.waitFor(() => profile.data.sessions.length === 0 && !profile.data.signingOut)
    assert.equal(p.env.lastToast().title, 'Signed out')
    assert.equal((await call(server, 'GET', '/api/v1/me', { token: redeemed.body.access_token })).status, 401)
    profile.close()
  })

  it('relative times read naturally in both languages', () => {
    const now = Date.parse('2024-05-01T12:00:00Z')
    const cases = [[10, '刚刚', 'just now'], [180, '3 分钟前', '3 min ago'], [7200, '2 小时前', '2 h ago'], [3 * 86400, '3 天前', '3 d ago']]
    for (const [lang, col] of [['zh_CN', 1], ['en', 2]]) {
      const p = phone({ language: lang })
      const format = p.mp.load(path.join(ROOT, 'utils', 'format.js'))
      for (const c of cases) assert.equal(format.ago(new Date(now - c[0] * 1000).toISOString(), now), c[col], lang + ' ' + c[0] + ' s')
    }
  })
})

describe('whole run', () => {
  it('no page called a deprecated API or threw, and WeChat refused nothing', () => {
    assert.ok(phones.length > 10)
    for (const p of phones) {
      assert.deepEqual(p.env.deprecated, [])
      assert.deepEqual(p.mp.errors.map(String), [])
      assert.deepEqual(p.env.violations, [])
    }
  })

  // Every text any zh_CN page showed during the whole run (each state the
  // tests reached: confirm page in every outcome, profile with its popup,
  // home), every toast, modal and navigation bar title, with the data that
  // is not ours to translate taken out (the site's name, the server's
  // browser label, the nickname the test typed), must have no English left.
  it('no English left in what the zh_CN pages showed', () => {
    const ALLOWED = /\bIP\b/g
    const dynamic = [SITE, 'Ada Lovelace']
    const texts = []
    let pages = 0
    for (const p of phones) {
      if (p.env.language !== 'zh_CN') continue
      for (const r of p.env.requests) {
        if (r.body && r.body.browser && r.body.browser.label) dynamic.push(r.body.browser.label)
        for (const s of (r.body && r.body.sessions) || []) if (s.label) dynamic.push(s.label)
      }
      texts.push(...p.mp.shown)
      texts.push(...p.env.toasts.map(t => t.title))
      for (const m of p.env.modals) texts.push(m.title, m.content, m.confirmText || '', m.cancelText || '')
      if (p.env.title) texts.push(p.env.title)
      pages += p.mp.shown.size ? 1 : 0
    }
    assert.ok(pages > 10 && texts.length > 100, 'the run showed ' + texts.length + ' texts on ' + pages + ' phones')
    dynamic.sort((a, b) => b.length - a.length)
    const english = []
    for (const text of new Set(texts)) {
      let rest = text
      for (const d of dynamic) rest = rest.split(d).join('')
      rest = rest.replace(ALLOWED, '')
      if (/[A-Za-z]{2,}/.test(rest)) english.push(text)
    }
    assert.deepEqual(english, [], 'untranslated text in the zh_CN UI')
  })
})
