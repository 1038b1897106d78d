'use strict'
// Checks on the project files themselves, and unit tests of the pieces that
// need no server. These run without Redis or Go.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { ROOT, newPhone } = require('./helpers/phone.js')
const { parse: parseWXML } = require('./harness/wxml.js')
const { textWidth, charCount, TOAST_ICON_MAX, TOAST_TEXT_MAX, MODAL_BUTTON_MAX } = require('./harness/wx.js')
const zh = require('../utils/locales/zh.js')
const en = require('../utils/locales/en.js')

// Source files of the mini-program itself (not its tests or node_modules).
function sourceFiles (dir = ROOT) {
  const out = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'test' || e.name.startsWith('.')) continue
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...sourceFiles(p))
    else out.push(p)
  }
  return out
}

const rel = p => path.relative(ROOT, p).replace(/\\/g, '/')
const appJSON = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))

test('every page in app.json has its .js, .json, .wxml and .wxss', () => {
  assert.ok(appJSON.pages.length >= 3)
  for (const page of appJSON.pages) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) {
      assert.ok(fs.existsSync(path.join(ROOT, page + '.' + ext)), page + '.' + ext + ' is missing')
    }
  }
  assert.ok(appJSON.pages.includes('pages/scan/scan'), 'the confirm page must be at SCANLOGIN_MP_PAGE\'s default, pages/scan/scan')
  assert.ok(appJSON.pages.includes('pages/profile/profile'))
})

test('every component in usingComponents has its four files and says it is a component', () => {
  const using = [appJSON.usingComponents || {}]
  for (const page of appJSON.pages) using.push(JSON.parse(fs.readFileSync(path.join(ROOT, page + '.json'), 'utf8')).usingComponents || {})
  const paths = new Set()
  for (const u of using) for (const p of Object.values(u)) paths.add(p.replace(/^\//, ''))
  assert.ok(paths.size >= 1)
  for (const p of paths) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) assert.ok(fs.existsSync(path.join(ROOT, p + '.' + ext)), p + '.' + ext + ' is missing')
    assert.equal(JSON.parse(fs.readFileSync(path.join(ROOT, p + '.json'), 'utf8')).component, true)
  }
})

test('every JSON file parses', () => {
  const files = sourceFiles().filter(f => f.endsWith('.json'))
  assert.ok(files.length >= 8, 'found ' + files.length + ' JSON files')
  for (const f of files) {
    assert.doesNotThrow(() => JSON.parse(fs.readFileSync(f, 'utf8')), rel(f))
  }
})

test('project files are complete and current', () => {
  // Obsolete since WeChat enforces the privacy check for everyone (2023-10-17).
  assert.ok(!('__usePrivacyCheck__' in appJSON), 'drop __usePrivacyCheck__')
  assert.ok(fs.existsSync(path.join(ROOT, appJSON.sitemapLocation)), 'sitemap.json')
  const project = JSON.parse(fs.readFileSync(path.join(ROOT, 'project.config.json'), 'utf8'))
  assert.equal(project.compileType, 'miniprogram')
  // "./" breaks miniprogram-ci's unused-file analysis; the project root is the default.
  assert.ok(!('miniprogramRoot' in project), 'no miniprogramRoot')
  assert.ok(project.appid, 'project.config.json needs a (placeholder) appid')
  assert.ok(fs.existsSync(path.join(ROOT, 'README.md')))
  assert.ok(fs.existsSync(path.join(ROOT, 'app.wxss')))
})

test('dark mode: every @variable of app.json is in both themes of theme.json', () => {
  assert.equal(appJSON.darkmode, true)
  const theme = JSON.parse(fs.readFileSync(path.join(ROOT, appJSON.themeLocation), 'utf8'))
  const vars = JSON.stringify(appJSON.window).match(/@\w+/g)
  assert.ok(vars.length >= 3)
  for (const v of vars) for (const mode of ['light', 'dark']) assert.ok(v.slice(1) in theme[mode], v + ' in ' + mode)
})

test('the string tables: same keys and placeholders in zh and en, no English in zh, within WeChat\'s limits', () => {
  const placeholders = s => (s.match(/\{\w+\}/g) || []).sort().join()
  assert.deepEqual(Object.keys(zh), Object.keys(en))
  // The link path's words replace the scan page's: each must be one of them.
  for (const k of Object.keys(zh.scanLink)) assert.ok(k in zh.scan, 'scanLink.' + k + ' replaces nothing in scan')
  for (const section of Object.keys(zh)) {
    assert.deepEqual(Object.keys(zh[section]).sort(), Object.keys(en[section]).sort(), section)
    for (const [k, v] of Object.entries(zh[section])) {
      assert.equal(placeholders(v), placeholders(en[section][k]), section + '.' + k)
      assert.ok(!/[A-Za-z]{2,}/.test(v.replace(/\bIP\b/g, '').replace(/\{\w+\}/g, '')), 'English in zh ' + section + '.' + k + ': ' + v)
    }
  }
  // Success toasts carry an icon: 7 Chinese characters' width. The others
  // are icon "none": two lines. The modal's button: 4 characters.
  for (const t of [zh, en]) {
    for (const k of ['avatarSaved', 'nicknameSaved', 'phoneLinked', 'signedOut']) assert.ok(textWidth(t.profile[k]) <= TOAST_ICON_MAX, k + ': ' + t.profile[k])
    for (const k of ['tooLarge', 'badPicture', 'nicknameEmpty', 'nicknameRejected', 'phoneUnavailable', 'phoneFailed', 'phoneLinkFailed', 'signOutFailed', 'modalFailed']) assert.ok(textWidth(t.profile[k]) <= TOAST_TEXT_MAX, k)
    for (const k of ['networkError', 'serverError', 'wxLoginFailed']) assert.ok(textWidth(t.common[k]) <= TOAST_TEXT_MAX, k)
    for (const k of ['tooMany', 'serverBusy']) assert.ok(textWidth(t.common[k].replace('{s}', '3600')) <= TOAST_TEXT_MAX, k)
    assert.ok(textWidth(t.scan.pickFirst) <= TOAST_TEXT_MAX && textWidth(t.index.notACode) <= TOAST_TEXT_MAX)
    assert.ok(charCount(t.profile.signOutConfirm) <= MODAL_BUTTON_MAX, t.profile.signOutConfirm)
  }
  assert.equal(zh.scan.confirm, '确认登录')
  assert.equal(zh.scan.decline, '取消登录')
  assert.equal(zh.scan.expiredTitle, '登录确认已过期')
})

test('no page shows a raw User-Agent: there is no client-side parser', () => {
  assert.ok(!fs.existsSync(path.join(ROOT, 'utils/ua.js')))
  for (const f of sourceFiles().filter(f => /\.(js|wxml)$/.test(f))) {
    assert.ok(!/user_agent|userAgent/.test(fs.readFileSync(f, 'utf8')), rel(f) + ' reads the User-Agent')
  }
})

test('no deprecated login or profile API is used', () => {
  const bad = /\bgetUserInfo\b|\bgetUserProfile\b|open-type=["']getUserInfo|bindgetuserinfo/
  for (const f of sourceFiles().filter(f => /\.(js|wxml|json)$/.test(f))) {
    const text = fs.readFileSync(f, 'utf8')
    assert.ok(!bad.test(text), rel(f) + ' uses a deprecated API: ' + (text.match(bad) || [])[0])
  }
})

test('only utils/request.js knows the API base URL', () => {
  for (const f of sourceFiles().filter(f => f.endsWith('.js') || f.endsWith('.wxml'))) {
    const name = rel(f)
    if (name === 'config.js') continue
    const text = fs.readFileSync(f, 'utf8')
    if (name !== 'utils/request.js') {
      assert.ok(!/config(\.js)?['"]\)/.test(text), name + ' requires config.js')
      assert.ok(!/apiBase/.test(text), name + ' reads apiBase')
    }
    assert.ok(!/https?:\/\//.test(text), name + ' contains a URL')
  }
})

test('the confirm page treats Decline at least as prominently as Confirm (WXML and WXSS)', () => {
  const ast = parseWXML(fs.readFileSync(path.join(ROOT, 'pages/scan/scan.wxml'), 'utf8'), 'scan.wxml')
  const buttons = []
  const walk = nodes => nodes.forEach(n => { if (n.tag === 'button') buttons.push(n); if (n.children) walk(n.children) })
  walk(ast)
  const decline = buttons.find(b => b.attrs.id === 'decline')
  const confirm = buttons.find(b => b.attrs.id === 'confirm')
  assert.ok(decline && confirm)
  assert.equal(decline.attrs.size, confirm.attrs.size, 'same size')
  assert.notEqual(decline.attrs.type, 'default', 'Decline is a filled button like Confirm')
  assert.notEqual(decline.attrs.plain, true)
  assert.ok(decline.attrs.class.split(' ').includes('action') && confirm.attrs.class.split(' ').includes('action'), 'both share the action style')
  const css = fs.readFileSync(path.join(ROOT, 'pages/scan/scan.wxss'), 'utf8')
  assert.ok(!/\.(decline|confirm)\s*\{/.test(css), 'no per-button size overrides')
})

test('scene is read from options.scene (URL-encoded), a scene= query, or a QR URL', async () => {
  const scene = '0123456789abcdef0123456789abcdef'
  const cases = [
    [{ scene }, 'loading'],
    [{ scene: encodeURIComponent('scene=' + scene) }, 'loading'],
    [{ q: encodeURIComponent('https://login.example.com/dev/phone?scene=' + scene) }, 'loading'],
    // Link mode: the prefix ends in / or =, the scene follows it.
    [{ q: encodeURIComponent('https://login.example.com/s/' + scene), scancode_time: '1767225600' }, 'loading'],
    [{ q: encodeURIComponent('https://login.example.com/l?s=' + scene), scancode_time: '1767225600' }, 'loading'],
    [{ q: encodeURIComponent('https://login.example.com/s/' + scene + 'ff') }, 'invalid'],
    [{ scene: 'not-a-scene' }, 'invalid'],
    [{}, 'invalid']
  ]
  for (const [options, want] of cases) {
    const phone = newPhone({ server: 'http://127.0.0.1:9' })
    phone.launch()
    const page = phone.open('pages/scan/scan', options)
    assert.equal(page.data.state, want, JSON.stringify(options))
    if (want === 'invalid') {
      assert.match(page.text(), /不是有效的登录二维码/)
      assert.ok(page.query('button#done'), 'a way out')
    } else {
      assert.equal(page.instance.scene, scene)
    }
    page.close()
  }
})

// A stub server for the transport policy the real server cannot be made to
// show on demand (429 with Retry-After, 5xx, a dropped connection).
async function stub (handler) {
  const server = http.createServer(handler)
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = 'http://127.0.0.1:' + server.address().port
  return { url, close: () => new Promise(resolve => { server.closeAllConnections(); server.close(resolve) }) }
}

function json (res, status, body, headers) {
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json' }, headers))
  res.end(body === undefined ? '' : JSON.stringify(body))
}

test('request helper: 429 waits for Retry-After then retries; long waits are reported', async () => {
  const hits = []
  const s = await stub((req, res) => {
    hits.push(Date.now())
    if (req.url === '/short' && hits.length === 1) return json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '1' })
    if (req.url === '/long') return json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '120' })
    json(res, 200, { ok: true })
  })
  try {
    const phone = newPhone({ server: s.url })
    phone.env.storage.set('scanlogin_token', JSON.stringify('t1'))
    const api = phone.api
    const body = await api.request({ path: '/short' })
    assert.deepEqual(body, { ok: true })
    assert.equal(hits.length, 2)
    assert.ok(hits[1] - hits[0] >= 950, 'waited ' + (hits[1] - hits[0]) + ' ms for Retry-After: 1')

    await assert.rejects(api.request({ path: '/long' }), e => e.status === 429 && e.retryAfter === 120 && e.code === 'rate_limited')
    assert.equal(phone.env.lastToast().title, '操作太频繁，请 120 秒后再试')
  } finally {
    await s.close()
  }
})

test('request helper: 5xx and network failures show a clear toast', async () => {
  const s = await stub((req, res) => json(res, 503, { error: { code: 'unavailable', message: 'try later' } }, { 'Retry-After': '7' }))
  try {
    const phone = newPhone({ server: s.url })
    phone.env.storage.set('scanlogin_token', JSON.stringify('t1'))
    await assert.rejects(phone.api.request({ path: '/x' }), e => e.status === 503)
    assert.equal(phone.env.lastToast().title, '服务繁忙，请 7 秒后再试')
  } finally {
    await s.close()
  }
  const dead = newPhone({ server: s.url }) // closed now: connection refused
  dead.env.storage.set('scanlogin_token', JSON.stringify('t1'))
  await assert.rejects(dead.api.request({ path: '/x' }), e => e.kind === 'network')
  assert.equal(dead.env.lastToast().title, '网络不给力，请稍后重试')
  const english = newPhone({ server: s.url, language: 'en' })
  english.env.storage.set('scanlogin_token', JSON.stringify('t1'))
  await assert.rejects(english.api.request({ path: '/x' }), e => e.kind === 'network')
  assert.equal(english.env.lastToast().title, 'Network error. Try again.')
})

test('request helper: an upload\'s 429 has no readable Retry-After (uploadFile gives no header), so the default 1 s wait applies', async () => {
  const hits = []
  const s = await stub((req, res) => {
    hits.push(Date.now())
    req.resume()
    if (hits.length === 1) return json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '120' })
    json(res, 200, { avatar_url: '/api/v1/avatars/x' })
  })
  try {
    const phone = newPhone({ server: s.url })
    phone.env.storage.set('scanlogin_token', JSON.stringify('t1'))
    const file = path.join(require('node:os').tmpdir(), 'scanlogin-upload-' + process.pid + '.png')
    fs.writeFileSync(file, 'x')
    const body = await phone.api.uploadFile({ path: '/up', filePath: file })
    fs.rmSync(file)
    assert.deepEqual(body, { avatar_url: '/api/v1/avatars/x' })
    assert.equal(hits.length, 2, 'retried once')
    assert.ok(hits[1] - hits[0] >= 950 && hits[1] - hits[0] < 5000, 'waited the default second, not the unreadable 120 s: ' + (hits[1] - hits[0]))
  } finally {
    await s.close()
  }
})

test('request helper: adds the Bearer token and builds URLs from config.js only', async () => {
  const seen = []
  const s = await stub((req, res) => { seen.push([req.method, req.url, req.headers.authorization]); json(res, 200, {}) })
  try {
    const phone = newPhone({ server: s.url, apiBase: s.url + '/' })
    phone.env.storage.set('scanlogin_token', JSON.stringify('tok'))
    await phone.api.request({ path: '/api/v1/mp/me' })
    assert.deepEqual(seen, [['GET', '/api/v1/mp/me', 'Bearer tok']])
    assert.equal(phone.api.absoluteURL('/api/v1/avatars/a'), s.url + '/api/v1/avatars/a')
    assert.equal(phone.api.absoluteURL('https://cdn.example.com/a.png'), 'https://cdn.example.com/a.png')
  } finally {
    await s.close()
  }
})

test('request helper: a 401 that is not about the token (a used phone-number code) is the caller\'s: no new login, no replay', async () => {
  const seen = []
  const s = await stub((req, res) => {
    seen.push(req.url)
    req.resume()
    if (req.url === '/dev/wechat/login') return json(res, 200, { code: 'c' + seen.length })
    if (req.url === '/api/v1/mp/login') return json(res, 200, { token: 't2', user: {}, is_new_user: false })
    json(res, 401, { error: { code: 'invalid_code', message: 'the code is invalid or used' } })
  })
  try {
    const phone = newPhone({ server: s.url })
    phone.env.storage.set('scanlogin_token', JSON.stringify('t1'))
    await assert.rejects(phone.api.request({ path: '/api/v1/mp/me/phone', method: 'POST', data: { code: 'once' } }),
      e => e.status === 401 && e.code === 'invalid_code')
    assert.deepEqual(seen, ['/api/v1/mp/me/phone'], 'one request, no login')
    assert.equal(phone.env.calls.login, 0)
    assert.equal(phone.api.getToken(), 't1', 'the token is kept')
  } finally {
    await s.close()
  }
})

for (const language of ['zh_CN', 'en']) {
  test('confirm page (' + language + '): a refused login is tried once, said in words, and again only on retry', async () => {
    const logins = []
    const s = await stub((req, res) => {
      req.resume()
      if (req.url === '/dev/wechat/login') return json(res, 200, { code: 'c' + logins.length })
      if (req.url === '/api/v1/mp/login') {
        logins.push(req.url)
        return json(res, 403, { error: { code: 'wechat_denied', message: 'WeChat refused this user' } })
      }
      json(res, 500, { error: { code: 'internal', message: 'unexpected ' + req.url } })
    })
    try {
      const phone = newPhone({ server: s.url, language })
      const t = language === 'en' ? en : zh
      const app = phone.launch()
      const page = phone.open('pages/scan/scan', { scene: '0123456789abcdef0123456789abcdef' })
      assert.equal(await app.whenLoggedIn(), null)
      await page.waitFor(() => page.data.state === 'error', { what: 'the error state' })
      assert.equal(logins.length, 1, 'one login for the launch and the page')
      assert.deepEqual(phone.env.toasts.map(x => x.title), [t.common.signInDenied])
      assert.equal(page.data.message, t.scan.errDenied)
      if (language !== 'en') assert.doesNotMatch(page.text(), /[A-Za-z]/, 'no English left for a Chinese user')
      await page.tap('#retry')
      await page.waitFor(() => logins.length === 2 && page.data.state === 'error', { what: 'the retried login' })
      page.close()
    } finally {
      await s.close()
    }
  })
}

test('privacy text: the contract\'s name sits in the sentence without spaces around it (Chinese has none; English carries its own)', () => {
  const wxml = fs.readFileSync(path.join(ROOT, 'components', 'privacy-popup', 'privacy-popup.wxml'), 'utf8')
  assert.match(wxml, /\{\{t\.before\}\}<text [^>]*>\{\{contractName\}\}<\/text>\{\{t\.after\}\}/)
  assert.ok(!/\s$/.test(zh.privacy.before) && !/^\s/.test(zh.privacy.after), 'no space in the Chinese strings')
  assert.ok(/ $/.test(en.privacy.before) && /^ /.test(en.privacy.after), 'the English strings keep their spaces')
})

test('browser labels: names with a Chinese name of their own are shown in Chinese to Chinese users', () => {
  const label = lang => newPhone({ server: 'http://127.0.0.1:9', language: lang }).mp.load(path.join(ROOT, 'utils', 'format.js')).browserLabel
  const zhLabel = label('zh_CN')
  const enLabel = label('en')
  for (const [server, zhShown] of [
    ['WeChat 8 · iOS 17', '微信 8 · iOS 17'],
    ['QQ Browser 13 · Android 14', 'QQ浏览器 13 · Android 14'],
    ['UC Browser 15 · Android 13', 'UC浏览器 15 · Android 13'],
    ['DingTalk 7 · macOS', '钉钉 7 · macOS'],
    ['Samsung Internet 25 · Android 14', '三星浏览器 25 · Android 14'],
    ['Chrome 131 · Windows 10/11', 'Chrome 131 · Windows 10/11']
  ]) {
    assert.equal(zhLabel(server), zhShown)
    assert.equal(enLabel(server), server)
  }
  assert.equal(zhLabel(undefined), '')
})

for (const language of ['zh_CN', 'en']) {
  test('home page (' + language + '): a failed launch login is said, not left as "signing in", and a tap tries again', async () => {
    let logins = 0
    let refuse = true
    const s = await stub((req, res) => {
      req.resume()
      if (req.url === '/dev/wechat/login') return json(res, 200, { code: 'c' + logins })
      if (req.url === '/api/v1/mp/login') {
        logins++
        if (refuse) return json(res, 403, { error: { code: 'wechat_denied', message: 'WeChat refused this user' } })
        return json(res, 200, { token: 't1', user: { id: 'u1', nickname: 'Ada' }, is_new_user: false })
      }
      json(res, 500, { error: { code: 'internal', message: 'unexpected ' + req.url } })
    })
    try {
      const phone = newPhone({ server: s.url, language })
      const t = language === 'en' ? en : zh
      const app = phone.launch()
      const page = phone.open('pages/index/index')
      assert.equal(await app.whenLoggedIn(), null)
      await new Promise(resolve => setTimeout(resolve, 50))
      const hello = page.textOf(page.get('#hello'))
      assert.notEqual(hello, t.index.signingIn, 'nothing is signing in any more')
      assert.equal(hello, t.index.signInFailed)
      refuse = false
      await page.tap('#hello')
      await page.waitFor(() => page.data.signedIn, { what: 'signed in after the tap' })
      assert.equal(logins, 2)
      assert.equal(page.textOf(page.get('#hello')), i18nFormat(t.index.helloName, { name: 'Ada' }))
      page.close()
    } finally {
      await s.close()
    }
  })
}

function i18nFormat (s, params) {
  return s.replace(/\{(\w+)\}/g, (m, k) => String(params[k]))
}

test('Chinese punctuation: no 顿号 before a conjunction (it joins words in a list, not clauses) and no English-style colon before an instruction', () => {
  const bad = []
  for (const [section, table] of Object.entries(zh)) {
    for (const [key, s] of Object.entries(table)) {
      if (/、(并且|而且|或者|但是)/.test(s) || /：(如果|请)/.test(s)) bad.push(section + '.' + key + ': ' + s)
    }
  }
  assert.deepEqual(bad, [])
})

test('confirm page: while a tap is being sent, the button tapped shows it is working, never the other one', async () => {
  const scene = '0123456789abcdef0123456789abcdef'
  const s = await stub((req, res) => {
    req.resume()
    if (req.url === '/dev/wechat/login') return json(res, 200, { code: 'c1' })
    if (req.url === '/api/v1/mp/login') return json(res, 200, { token: 't1', user: { id: 'u1' }, is_new_user: false })
    if (req.url.endsWith('/scan')) {
      return json(res, 200, { scene, state: 'scanned', expires_in: 60, browser: { ip: '203.0.113.9', label: 'Chrome 131 · Windows 10/11', created_at: new Date().toISOString() }, site: { name: 'Acme' } })
    }
    setTimeout(() => json(res, 200, { scene, state: req.url.endsWith('/cancel') ? 'cancelled' : 'confirmed' }), 200)
  })
  try {
    for (const [tapped, other, final] of [['#decline', '#confirm', 'declined'], ['#confirm', '#decline', 'confirmed']]) {
      const phone = newPhone({ server: s.url })
      phone.launch()
      const page = phone.open('pages/scan/scan', { scene })
      await page.waitFor(() => page.data.state === 'ready', { what: 'scan' })
      const tapping = page.tap(tapped)
      assert.ok(page.get(tapped).attrs.loading, tapped + ' shows it is working')
      assert.ok(!page.get(other).attrs.loading, other + ' was not tapped: it must not look as if it were being sent')
      await tapping
      await page.waitFor(() => page.data.state === final, { what: final })
      page.close()
    }
  } finally {
    await s.close()
  }
})

test('a Chinese site name sits in a Chinese sentence without spaces, a Latin one with them', () => {
  const { format } = require('../utils/i18n.js')
  for (const [site, heading, warning, opened] of [
    ['京东商城', '确认在电脑上登录京东商城？', '京东商城不会通过短信', '打开京东商城的登录页'],
    ['scanlogin demo', '确认在电脑上登录 scanlogin demo？', 'scanlogin demo 不会通过短信', '打开 scanlogin demo 的登录页'],
    ['Acme 商城', '确认在电脑上登录 Acme 商城？', 'Acme 商城不会通过短信', '打开 Acme 商城的登录页']
  ]) {
    assert.equal(format(zh.scan.heading, { site }), heading)
    assert.ok(format(zh.scan.warningText, { site }).includes(warning), format(zh.scan.warningText, { site }))
    assert.ok(format(zh.scanLink.warningText, { site }).includes(opened), format(zh.scanLink.warningText, { site }))
  }
  assert.equal(format(en.scan.heading, { site: '京东商城' }), 'Sign in to 京东商城 on a computer?')
  assert.equal(format(zh.scan.errRateLimited, { s: 5 }), '操作太频繁，请 5 秒后再试。')
})
