'use strict'
// The harness itself: the WXML and runtime semantics the page tests rely on,
// checked on a small fixture mini-program (test/fixtures/harness-app).

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { MiniProgram } = require('./harness/runtime.js')
const { createWx } = require('./harness/wx.js')

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
