'use strict'
// WeChat's own tools as gates (README.md, "Tests"): the official WXML/WXSS
// compilers, the TypeScript checker against WeChat's API typings, and
// miniprogram-ci's offline compile of the whole project. Each gate is also
// shown to fail on a file WeChat would refuse, so a green gate means
// something.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ROOT } = require('./helpers/phone.js')

const rel = p => path.relative(ROOT, p).replace(/\\/g, '/')

function files (ext, dir = ROOT) {
  const out = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'test'].includes(e.name) || e.name.startsWith('.')) continue
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...files(ext, p))
    else if (e.name.endsWith(ext)) out.push(rel(p))
  }
  return out.sort()
}

function tmpdir () {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'scanlogin-gate-'))
}

// The compilers ship as x86-64 Linux, macOS and Windows binaries inside the
// npm package (miniprogram-compiler); this project's machines are x86-64 Linux.
function compiler (name) {
  assert.ok(process.platform === 'linux' && process.arch === 'x64',
    'miniprogram-compiler\'s Linux binaries are x86-64 only; this is ' + process.platform + '/' + process.arch + ' (see README.md, "Tests")')
  const bin = path.join(ROOT, 'node_modules', 'miniprogram-compiler', 'bin', 'linux', name)
  fs.chmodSync(bin, 0o755) // npm unpacks them without the execute bit
  return bin
}

// wcc compiles all WXML files in one run, as DevTools does; the package's
// own JS wrapper is not used because it swallows wcsc's errors.
function wcc (cwd, list) {
  return spawnSync(compiler('wcc'), ['-d', '-cc', '0'].concat(list, ['-gn', '$gwx']), { cwd, encoding: 'utf8', maxBuffer: 64 << 20 })
}

function wcsc (cwd, list) {
  return spawnSync(compiler('wcsc'), ['-db', '-pc', '0'].concat(list), { cwd, encoding: 'utf8', maxBuffer: 64 << 20 })
}

test('compiler: every .wxml compiles with WeChat\'s wcc', () => {
  const list = files('.wxml')
  assert.ok(list.length >= 4, list.join())
  const r = wcc(ROOT, list)
  assert.equal(r.status, 0, 'wcc: ' + r.stderr + r.stdout.slice(0, 2000))
  for (const f of list) assert.ok(r.stdout.includes(JSON.stringify(f).slice(1, -1)) || r.stdout.includes("'" + f + "'") || r.stdout.includes(f), f + ' in the output')
})

test('compiler: every .wxss compiles with WeChat\'s wcsc', () => {
  const list = files('.wxss')
  assert.ok(list.length >= 4, list.join())
  const r = wcsc(ROOT, list)
  assert.equal(r.status, 0, 'wcsc: ' + r.stderr)
})

test('compiler: the gates fail on what WeChat refuses', () => {
  const dir = tmpdir()
  try {
    for (const [expr, why] of [['a?.b', 'optional chaining'], ['x => x', 'arrow function'], ['`x${a}`', 'template literal'], ['a ?? b', 'nullish']]) {
      fs.writeFileSync(path.join(dir, 'bad.wxml'), '<view>{{' + expr + '}}</view>\n')
      const r = wcc(dir, ['bad.wxml'])
      assert.notEqual(r.status, 0, why + ' compiled')
      assert.match(r.stderr, /bad\.wxml/)
    }
    fs.writeFileSync(path.join(dir, 'bad.wxml'), '<view><text>unclosed</view>\n')
    assert.notEqual(wcc(dir, ['bad.wxml']).status, 0, 'unbalanced tags compiled')
    fs.writeFileSync(path.join(dir, 'bad.wxss'), '.a { color: red;\n')
    assert.notEqual(wcsc(dir, ['bad.wxss']).status, 0, 'an unclosed rule compiled')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

// The harness's WXML evaluator (test/harness/wxml.js) must refuse what wcc
// refuses, and should take what it takes: each expression goes through both.
test('compiler: the harness reads WXML expressions as wcc does', () => {
  const wxml = require('./harness/wxml.js')
  const exprs = [
    'a', 'a.b.c', 'a.b[0]', 'a[0].b', '[1, 2][0]', '[a, b].length', '[a][0].x', '-a', '- -a', '-(a)', '!a', '(a)',
    '1.5', '.5', '1.', '01', "'a' + b", "'\\u0041'", "'\\n'", 'a ? b : c',
    "'abc'.length", '"ab".x', "'a'[0]", '1 .x', '1[0]', 'true.x', 'true[0]', 'null.x', '(a).x', '(a)[0]', '(a || b).c',
    '[a,]', '+a', '0x10', '1e3', '1.5e2', 'a?.b'
  ]
  // Not listed: calls such as f(1), which wcc compiles (a WXS module's
  // function is called so) but data can never hold a function to call; the
  // harness refuses them, as docs say (README.md, "Tests").
  const dir = tmpdir()
  try {
    for (const e of exprs) {
      fs.writeFileSync(path.join(dir, 'x.wxml'), '<view>{{' + e + '}}</view>\n')
      const wechat = wcc(dir, ['x.wxml']).status === 0
      let harness = true
      try { wxml.compile(e) } catch (err) { harness = false }
      assert.equal(harness, wechat, (wechat ? 'wcc takes' : 'wcc refuses') + ' {{' + e + '}}, the harness ' + (harness ? 'takes' : 'refuses') + ' it')
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

function tsc (project) {
  return spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: ROOT, encoding: 'utf8' })
}

test('types: tsc --checkJs against miniprogram-api-typings finds no error', () => {
  const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'))
  assert.equal(cfg.compilerOptions.checkJs, true)
  assert.equal(cfg.compilerOptions.noEmit, true)
  assert.deepEqual(cfg.compilerOptions.types, ['miniprogram-api-typings'])
  for (const f of files('.js')) assert.ok(!/@ts-ignore|@ts-nocheck/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')), f + ' silences the checker')
  const r = tsc(path.join(ROOT, 'tsconfig.json'))
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('types: a method wx.request cannot send is a type error, through the request helper too', () => {
  const dir = tmpdir()
  try {
    const req = path.join(ROOT, 'utils', 'request.js').replace(/\\/g, '/')
    fs.writeFileSync(path.join(dir, 'bad.js'), [
      "const api = require('" + req + "')",
      "api.request({ path: '/api/v1/mp/me', method: 'PATCH', data: {} })",
      "wx.request({ url: 'https://login.example.com/x', method: 'PATCH' })",
      ''
    ].join('\n'))
    const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'))
    cfg.compilerOptions.typeRoots = [path.join(ROOT, 'node_modules')]
    delete cfg.include
    cfg.files = [path.join(dir, 'bad.js')]
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(cfg))
    const r = tsc(path.join(dir, 'tsconfig.json'))
    assert.notEqual(r.status, 0)
    const errors = r.stdout.split('\n').filter(l => /bad\.js\(\d+,\d+\): error/.test(l))
    assert.equal(errors.length, 2, r.stdout)
    assert.match(errors[0], /bad\.js\(2,/)
    assert.match(errors[1], /bad\.js\(3,/)
    assert.match(r.stdout, /"PATCH"/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

// miniprogram-ci compiles as an upload would, offline (helpers/ci-compile.js
// says how, and runs it in a process of its own).
test('ci: miniprogram-ci compiles the whole project offline, as an upload would', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'helpers', 'ci-compile.js')], { cwd: ROOT, encoding: 'utf8', timeout: 300000, maxBuffer: 64 << 20 })
  const m = /\nCOMPILED (.*)\n/.exec(r.stdout)
  assert.ok(r.status === 0 && m, 'miniprogram-ci: exit ' + r.status + (r.signal ? ' (' + r.signal + ')' : '') + '\n' + r.stdout.slice(-3000) + r.stderr.slice(-3000))
  const names = JSON.parse(m[1])
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
  for (const page of app.pages) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) assert.ok(names.includes(page + '.' + ext), page + '.' + ext + ' in the package')
  }
  for (const f of ['app.js', 'app.json', 'theme.json', 'utils/i18n.js', 'utils/locales/zh.js', 'utils/locales/en.js']) assert.ok(names.includes(f), f)
  assert.ok(!names.some(n => n.startsWith('test/') || n.startsWith('node_modules/') || n === 'package.json' || n === 'tsconfig.json'), 'packOptions keep tests and npm files out: ' + names.join())
})
