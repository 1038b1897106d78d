'use strict'
// The harness itself: the WXML and runtime semantics the page tests rely on,
// checked on a small fixture mini-program (test/fixtures/harness-app).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const { spawnSync } = require('node:child_process')
const { MiniProgram } = require('./harness/runtime.js')
const { createWx } = require('./harness/wx.js')
const wxml = require('./harness/wxml.js')

function open () {
  const { wx, env } = createWx({ wechat: 'http://127.0.0.1:9', openid: 'o1' })
  const mp = new MiniProgram({ root: path.join(__dirname, 'fixtures', 'harness-app'), wx, env })
  const app = mp.launch()
  const page = mp.openPage('pages/demo/demo', { x: '1' })
  return { mp, app, page, log: page.instance.log = [] }
}

test('App, Page, require and lifecycle run as in WeChat; Node globals are hidden', () => {
  const { app, page } = open()
  assert.equal(app.globalData.launched, 1)
  assert.deepEqual(page.instance.loadedWith, { x: '1' })
  assert.equal(page.textOf(page.get('#g')), 'hello wx undefinedundefinedundefined')
})

test('wx:if / wx:elif / wx:else follow setData', () => {
  const { page } = open()
  assert.equal(page.textOf(page.get('#chain')), 'zero')
  page.instance.setData({ n: 1 })
  assert.equal(page.textOf(page.get('#chain')), 'one')
  page.instance.setData({ n: 7 })
  assert.equal(page.textOf(page.get('#chain')), 'many')
})

test('wx:for with item/index names, class bindings, dataset and path setData', async () => {
  const { page, log } = open()
  const rows = page.queryAll('.row')
  assert.deepEqual(rows.map(r => page.textOf(r)), ['0:A', '1:B'])
  assert.deepEqual(page.queryAll('.first').length, 1)
  await page.tap(rows[1])
  assert.deepEqual(log, ['row:b'])
  page.instance.setData({ 'items[1].name': 'Z' })
  assert.equal(page.textOf(page.queryAll('.row')[1]), '1:Z')
})

test('hidden and disabled elements cannot be tapped; disabled="false" is a truthy string', async () => {
  const { page } = open()
  await assert.rejects(page.tap('#hb'), /hidden/)
  await assert.rejects(page.tap('#dis'), /disabled/)
  await assert.rejects(page.tap('#strfalse'), /disabled/)
  page.instance.setData({ hide: false, n: 9 })
  await page.tap('#hb')
  await page.tap('#dis')
})

test('form submit collects named inputs, typed values included', async () => {
  const { page } = open()
  await page.type('#b', 'typed')
  await page.tap('#sub')
  assert.deepEqual(page.instance.submitted, { a: 'init', b: 'typed' })
  page.instance.setData({ n: 1 }) // a re-render keeps what was typed
  await page.tap('#sub')
  assert.deepEqual(page.instance.submitted, { a: 'init', b: 'typed' })
})

test('tap bubbles through bind handlers and stops at catch', async () => {
  const { page, log } = open()
  await page.tap('#inner')
  assert.deepEqual(log.splice(0), ['inner:inner'])
  await page.tap('#bubble')
  assert.deepEqual(log.splice(0), ['inner:bubble', 'outer:bubble'])
})

test('components: properties, attached, own setData, triggerEvent to the page', async () => {
  const { page, log } = open()
  assert.equal(page.textOf(page.get('#inc')), '0/0')
  await page.tap('#inc')
  assert.equal(page.textOf(page.get('#inc')), '1/0')
  assert.deepEqual(log, ['changed:1'])
  page.instance.setData({ n: 3 })
  assert.equal(page.textOf(page.get('#inc')), '1/3', 'property updated, state kept')
  assert.equal(page.instance.selectComponent('#ctr').data.count, 1)
})

test('missing data renders empty; an unknown handler is an error', async () => {
  const { page, mp } = open()
  assert.equal(page.textOf(page.get('#miss')), '[]')
  await assert.rejects(page.tap('#broken'), /noSuchMethod/)
  assert.equal(mp.errors.length, 1)
})

// --- the strict wx: what WeChat refuses, the harness refuses ----------------

function strictWx () {
  const { wx, env } = createWx({ wechat: 'http://127.0.0.1:9', openid: 'o1' })
  const mp = new MiniProgram({ root: path.join(__dirname, 'fixtures', 'harness-app'), wx, env })
  mp.launch()
  return { wx, env, mp }
}

function call (fn, o) {
  return new Promise(resolve => fn(Object.assign({}, o, { success: r => resolve(['success', r]), fail: r => resolve(['fail', r]) })))
}

test('wx.request refuses methods WeChat does not send, as WeChat does', async () => {
  const { wx, env, mp } = strictWx()
  const [how, res] = await call(wx.request, { url: 'http://127.0.0.1:9/x', method: 'PATCH' })
  assert.equal(how, 'fail')
  assert.equal(res.errMsg, 'request:fail method is invalid')
  assert.equal(env.calls.request, 1)
  assert.equal(env.requests.length, 0, 'nothing was sent')
  assert.match(env.violations[0], /method "PATCH"/)
  assert.equal(mp.errors.length, 1, 'and the runtime counts it as an error')
  for (const m of ['patch', 'get']) {
    assert.equal((await call(wx.request, { url: 'http://127.0.0.1:9/x', method: m }))[1].errMsg, 'request:fail method is invalid', m + ': the list is upper case')
  }
})

test('wx.request and wx.uploadFile: at most 10 at once, as WeChat allows; the 11th fails', async () => {
  const held = []
  const server = http.createServer((req, res) => { req.resume(); held.push(res) })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = 'http://127.0.0.1:' + server.address().port + '/x'
  try {
    const { wx, env } = strictWx()
    const first = []
    for (let i = 0; i < 10; i++) first.push(call(wx.request, { url }))
    while (held.length < 10) await new Promise(resolve => setTimeout(resolve, 10))
    const [how, res] = await Promise.race([call(wx.request, { url }), new Promise(resolve => setTimeout(() => resolve(['sent', {}]), 2000))])
    assert.equal(how, 'fail', 'the 11th request at once')
    assert.match(res.errMsg, /^request:fail /)
    assert.equal(env.requests.length, 10, 'the 11th was not sent')
    assert.match(env.violations[0], /10 at once/)
    for (const r of held) r.end('{}')
    for (const [h] of await Promise.all(first)) assert.equal(h, 'success')
  } finally {
    server.closeAllConnections()
    server.close()
  }
})

test('wx.uploadFile results carry data and statusCode, no header', async () => {
  const server = http.createServer((req, res) => { req.resume(); res.writeHead(429, { 'Retry-After': '9' }); res.end('{"error":{}}') })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const file = path.join(os.tmpdir(), 'harness-upload-' + process.pid)
  fs.writeFileSync(file, 'x')
  try {
    const { wx } = strictWx()
    const [how, res] = await call(wx.uploadFile, { url: 'http://127.0.0.1:' + server.address().port + '/up', filePath: file, name: 'file' })
    assert.equal(how, 'success')
    assert.deepEqual(Object.keys(res).sort(), ['data', 'errMsg', 'statusCode'])
    assert.equal(typeof res.data, 'string')
  } finally {
    fs.rmSync(file)
    server.close()
  }
})

test('wx.showModal with a button over 4 characters shows nothing and runs fail', async () => {
  const { wx, env } = strictWx()
  const [how, res] = await call(wx.showModal, { title: 'Sign out this browser?', confirmText: 'Sign out' })
  assert.equal(how, 'fail')
  assert.match(res.errMsg, /^showModal:fail/)
  assert.deepEqual(env.modals, [], 'no modal')
  assert.match(env.violations[0], /confirmText "Sign out"/)
  assert.equal((await call(wx.showModal, { title: 't', cancelText: '暂时不要了' }))[0], 'fail')
  assert.equal((await call(wx.showModal, { title: 't', confirmText: '退出登录', cancelText: '取消' }))[0], 'success')
  assert.equal(env.modals.length, 1)
})

test('wx.showToast: an icon toast fits 7 Chinese characters, a text toast two lines', () => {
  const { wx, env } = strictWx()
  wx.showToast({ title: '头像已更新', icon: 'success' })
  wx.showToast({ title: 'Avatar updated', icon: 'success' }) // 14 Latin letters = 7 Chinese widths
  wx.showToast({ title: '网络不给力，请稍后重试', icon: 'none' })
  assert.deepEqual(env.violations, [])
  wx.showToast({ title: '你的头像已经成功更新了', icon: 'success' })
  wx.showToast({ title: 'Nickname has been saved', icon: 'success' })
  wx.showToast({ title: '这是一条非常非常长的提示文字，在微信里会被截断，超过两行就看不全了', icon: 'none' })
  wx.showLoading({ title: '正在努力加载中，请稍候' })
  assert.equal(env.violations.length, 4, env.violations.join('\n'))
})

test('navigation: only pages in app.json, and at most 10 deep', async () => {
  const { wx, env, mp } = strictWx()
  assert.equal((await call(wx.navigateTo, { url: '/pages/demo/demo?x=1' }))[0], 'success')
  const [how, res] = await call(wx.navigateTo, { url: '/pages/nope/nope' })
  assert.equal(how, 'fail')
  assert.match(res.errMsg, /navigateTo:fail page "pages\/nope\/nope" is not found/)
  assert.equal((await call(wx.redirectTo, { url: 'pages/nope/nope' }))[0], 'fail')
  assert.equal((await call(wx.switchTab, { url: '/pages/demo/demo' }))[0], 'fail', 'no tabBar')
  for (let i = 0; i < 10; i++) mp.openPage('pages/demo/demo', {})
  const deep = await call(wx.navigateTo, { url: '/pages/demo/demo' })
  assert.equal(deep[0], 'fail')
  assert.match(deep[1].errMsg, /webview count limit exceed/)
  assert.equal(env.violations.length, 4)
})

test('navigation: a path without a leading / is relative to the current page, as WeChat reads it', async () => {
  const { wx, env, mp } = strictWx()
  mp.openPage('pages/demo/demo', {})
  assert.equal((await call(wx.navigateTo, { url: 'demo?x=1' }))[0], 'success', 'pages/demo/demo')
  assert.equal((await call(wx.navigateTo, { url: '../demo/demo' }))[0], 'success', 'pages/demo/demo')
  const [how, res] = await call(wx.navigateTo, { url: 'pages/demo/demo' })
  assert.equal(how, 'fail', 'pages/demo/pages/demo/demo is no page')
  assert.match(res.errMsg, /page "pages\/demo\/pages\/demo\/demo" is not found/)
  assert.equal(env.violations.length, 1)
})

test('storage: at most 1 MB under one key and 10 MB in all, as WeChat allows', () => {
  const { wx, env } = strictWx()
  const mb = 'x'.repeat(1 << 20)
  assert.throws(() => wx.setStorageSync('big', mb), /exceed storage max size/)
  assert.equal(wx.getStorageSync('big'), '', 'nothing stored')
  const almost = 'x'.repeat((1 << 20) - 100)
  for (let i = 0; i < 10; i++) wx.setStorageSync('k' + i, almost)
  wx.setStorageSync('k0', almost) // replacing a value counts it once
  assert.throws(() => wx.setStorageSync('k10', almost), /exceed storage max size/)
  assert.deepEqual(env.violations, ['wx.setStorageSync: a value over 1 MB under "big"', 'wx.setStorageSync: storage over 10 MB in all'])
})

test('a violation fails the suite: a test showing an over-long toast fails its node --test run', () => {
  const env = Object.assign({}, process.env)
  delete env.NODE_TEST_CONTEXT // a run of its own, not a child of this one
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', path.join(__dirname, 'fixtures', 'strict', 'over-limit.js')], { encoding: 'utf8', env })
  assert.equal(r.status, 1, r.stdout + r.stderr)
  assert.match(r.stdout, /WeChat would refuse this/)
  assert.match(r.stdout, /wx\.showToast: title "你的头像已经成功更新了"/)
  assert.match(r.stdout, /fail 1/)
})

// --- WXML: WeChat's expression language, nothing more ------------------------

test('WXML expressions: what WeChat accepts evaluates, the rest fails at load', () => {
  const scope = { a: { b: 2, list: [1, 2] }, n: 3, s: 'x', t: { ok: 'OK' } }
  const good = [
    ['a.b', 2], ["a['b']", 2], ['a.list.length > 1', true], ['n % 2 === 1 ? t.ok : s', 'OK'], ['!a.missing', true],
    ['-n + 1', -2], ['[1, n][1]', 3], ['"q" + s', 'qx'], ['a.missing.deep', undefined], ['n >= 3 && n <= 3 || false', true], ['null', null]
  ]
  for (const [e, want] of good) assert.deepEqual(wxml.evaluate(e, scope), want, e)
  const bad = ['f(1)', 'a.list.join(",")', 'a?.b', 'a ?? 1', 'x => x', '`x${s}`', 'new Date()', 'typeof a', 'a = 1', 'a, b', '{ a: 1 }', 'a instanceof b', 'n ** 2', 'a & 1', 'this.a']
  for (const e of bad) assert.throws(() => wxml.compile(e), /not WXML|unexpected/, e)
  assert.throws(() => wxml.parse('<view>{{a?.b}}</view>', 'x.wxml'), /optional chaining/)
})

test('WXML: unmodelled tags and attributes fail at load', () => {
  for (const src of ['<template name="t"/>', '<wxs module="m"/>', '<include src="a.wxml"/>', '<slot/>', '<input model:value="{{v}}"/>', '<view capture-bind:tap="f"/>', '<view wx:for-items="{{a}}"/>']) {
    assert.throws(() => wxml.parse(src, 'x.wxml'), /not supported|not modelled/, src)
  }
})

// --- Component(), Page(), App(): features the harness does not model fail ---

function appWith (files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harness-app-'))
  const all = Object.assign({
    'app.json': JSON.stringify({ pages: ['pages/p/p'], usingComponents: { 'x-c': '/components/c/c' } }),
    'app.js': 'App({})',
    'pages/p/p.js': 'Page({ data: {} })',
    'pages/p/p.json': '{}',
    'pages/p/p.wxml': '<x-c />',
    'components/c/c.js': 'Component({ data: {} })',
    'components/c/c.json': '{"component": true}',
    'components/c/c.wxml': '<view>c</view>'
  }, files)
  for (const [f, text] of Object.entries(all)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    fs.writeFileSync(path.join(dir, f), text)
  }
  const { wx, env } = createWx({ wechat: 'http://127.0.0.1:9', openid: 'o1' })
  const mp = new MiniProgram({ root: dir, wx, env })
  return { mp, open: () => { mp.launch(); return mp.openPage('pages/p/p', {}) }, dir }
}

test('Component features the harness does not model fail loudly', () => {
  const ok = appWith({})
  assert.equal(ok.open().text(), 'c')
  const cases = [
    ['components/c/c.js', 'Component({ behaviors: [], data: {} })', /behaviors/],
    ['components/c/c.js', 'Component({ observers: { a () {} } })', /observers/],
    ['components/c/c.js', 'Component({ pageLifetimes: { show () {} } })', /pageLifetimes/],
    ['components/c/c.js', 'Component({ relations: {} })', /relations/],
    ['components/c/c.js', 'Component({ lifetimes: { ready () {} } })', /lifetimes\.ready/],
    ['components/c/c.js', 'Component({ properties: { a: { type: String, observer () {} } } })', /observer/],
    ['components/c/c.js', 'Behavior({})', /Behavior/],
    ['pages/p/p.js', 'Page({ onPageScroll () {} })', /onPageScroll/],
    ['pages/p/p.js', 'Page({ onShareAppMessage () {} })', /onShareAppMessage/],
    ['app.js', 'App({ onError () {} })', /onError/]
  ]
  for (const [file, code, want] of cases) {
    const a = appWith({ [file]: code })
    assert.throws(() => a.open(), want, code)
    fs.rmSync(a.dir, { recursive: true, force: true })
  }
  fs.rmSync(ok.dir, { recursive: true, force: true })
})
