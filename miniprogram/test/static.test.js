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

test('app.json opts into the privacy check; project files are complete', () => {
  assert.equal(appJSON.__usePrivacyCheck__, true)
  assert.ok(fs.existsSync(path.join(ROOT, appJSON.sitemapLocation)), 'sitemap.json')
  const project = JSON.parse(fs.readFileSync(path.join(ROOT, 'project.config.json'), 'utf8'))
  assert.equal(project.compileType, 'miniprogram')
  assert.ok(project.appid, 'project.config.json needs a (placeholder) appid')
  assert.ok(fs.existsSync(path.join(ROOT, 'README.md')))
  assert.ok(fs.existsSync(path.join(ROOT, 'app.wxss')))
})

test('every WXML file parses and its bindings compile', () => {
  const files = sourceFiles().filter(f => f.endsWith('.wxml'))
  assert.ok(files.length >= 4)
  for (const f of files) parseWXML(fs.readFileSync(f, 'utf8'), rel(f))
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

test('the user-agent parser names browsers and systems people recognise', () => {
  const phone = newPhone({ server: 'http://127.0.0.1:9' })
  const ua = phone.mp.load(path.join(ROOT, 'utils/ua.js'))
  const cases = [
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36', 'Chrome 124', 'Windows 10/11'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51', 'Edge 124', 'Windows 10/11'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15', 'Safari 17', 'macOS 10.15'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0', 'Firefox 125', 'Linux'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1', 'Safari 17', 'iOS 17'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36', 'Chrome 124', 'Android 14'],
    ['', 'Unknown browser', 'Unknown system']
  ]
  for (const [s, browser, os] of cases) assert.deepEqual(ua.parse(s), { browser, os }, s)
})

test('scene is read from options.scene (URL-encoded), a scene= query, or a QR URL', async () => {
  const scene = '0123456789abcdef0123456789abcdef'
  const cases = [
    [{ scene }, 'loading'],
    [{ scene: encodeURIComponent('scene=' + scene) }, 'loading'],
    [{ q: encodeURIComponent('https://login.example.com/dev/phone?scene=' + scene) }, 'loading'],
    [{ scene: 'not-a-scene' }, 'invalid'],
    [{}, 'invalid']
  ]
  for (const [options, want] of cases) {
    const phone = newPhone({ server: 'http://127.0.0.1:9' })
    phone.launch()
    const page = phone.open('pages/scan/scan', options)
    assert.equal(page.data.state, want, JSON.stringify(options))
    if (want === 'invalid') {
      assert.match(page.text(), /not a valid sign-in code/)
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
    assert.match(phone.env.lastToast().title, /Try again in 120 s/)
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
    assert.match(phone.env.lastToast().title, /server is busy. Try again in 7 s/)
  } finally {
    await s.close()
  }
  const dead = newPhone({ server: s.url }) // closed now: connection refused
  dead.env.storage.set('scanlogin_token', JSON.stringify('t1'))
  await assert.rejects(dead.api.request({ path: '/x' }), e => e.kind === 'network')
  assert.match(dead.env.lastToast().title, /Network error/)
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
