'use strict'
// Starts what the integration tests talk to: a private redis-server on a free
// loopback port (no persistence) and the real scanlogin binary, built from
// this checkout, in dev mode (fake WeChat mounted at /dev/wechat/) on that
// Redis. Everything is killed by stop(), and on process exit as a last resort.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { command } = require('./redis.js')

const REPO = path.resolve(__dirname, '..', '..', '..')
const children = new Set()

process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL') } catch (e) { /* already gone */ }
  }
})

function need (cmd, args, hint) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.error || r.status !== 0) {
    throw new Error(cmd + ' is needed by the mini-program integration tests but could not be run (' +
      (r.error ? r.error.message : 'exit ' + r.status) + '). ' + hint)
  }
}

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

// redisIsOurs says whether the redis-server of process pid answers on port.
// A PONG alone is not enough: when ours could not bind the port, another
// test's server holding it answers, and the tests would share its data.
async function redisIsOurs (port, pid) {
  try {
    const info = await command(port, 'INFO', 'server')
    return info.includes('\r\nprocess_id:' + pid + '\r\n')
  } catch (e) {
    return false
  }
}

// track starts a child process whose output is kept for error messages.
function track (cmd, args, opts) {
  const child = spawn(cmd, args, Object.assign({ stdio: ['ignore', 'pipe', 'pipe'] }, opts))
  child.log = ''
  const keep = d => { child.log = (child.log + d).slice(-20000) }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  child.exited = new Promise(resolve => child.on('exit', (code, signal) => { children.delete(child); resolve({ code, signal }) }))
  children.add(child)
  return child
}

async function kill (child) {
  if (!child || !children.has(child)) return
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 5000)
  await child.exited
  clearTimeout(t)
}

async function startRedis (dir) {
  need('redis-server', ['--version'], 'Install it (Debian: apt-get install redis-server); .ci/run does.')
  let lastLog = ''
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const child = track('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'])
    for (let i = 0; i < 100; i++) {
      if (await redisIsOurs(port, child.pid)) return { port, child, url: 'redis://127.0.0.1:' + port + '/0' }
      if (!children.has(child)) break
      await sleep(50)
    }
    lastLog = child.log
    await kill(child)
  }
  throw new Error('redis-server did not start:\n' + lastLog)
}

function buildServer (dir) {
  need('go', ['version'], 'Install Go (see go.mod for the version).')
  const bin = path.join(dir, 'scanlogin')
  return new Promise((resolve, reject) => {
    const child = track('go', ['build', '-o', bin, './cmd/scanlogin'], { cwd: REPO })
    child.exited.then(({ code }) => {
      if (code === 0) resolve(bin)
      else reject(new Error('go build ./cmd/scanlogin failed:\n' + child.log))
    })
  })
}

// startServer runs the binary in dev mode on the given Redis and waits for
// /healthz. extraEnv is added to (and overrides) the defaults.
async function startServer (bin, redisURL, extraEnv) {
  let lastLog = ''
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const url = 'http://127.0.0.1:' + port
    const env = {}
    for (const [k, v] of Object.entries(process.env)) {
      if (!k.startsWith('SCANLOGIN_')) env[k] = v // never inherit real WeChat credentials
    }
    Object.assign(env, {
      SCANLOGIN_ADDR: '127.0.0.1:' + port,
      SCANLOGIN_PUBLIC_URL: url,
      SCANLOGIN_REDIS_URL: redisURL
    }, extraEnv)
    const child = track(bin, [], { env })
    const deadline = Date.now() + 20000
    while (Date.now() < deadline && children.has(child)) {
      try {
        const res = await fetch(url + '/healthz')
        if (res.status === 200) return { url, child, log: () => child.log, stop: () => kill(child) }
      } catch (e) { /* not listening yet */ }
      await sleep(100)
    }
    lastLog = child.log
    await kill(child)
  }
  throw new Error('scanlogin did not become healthy:\n' + lastLog)
}

// LIMITS raises the per-IP limits: every phone and browser of the tests
// comes from 127.0.0.1, where real ones have an address each. The per-user
// scan limit stays at its default.
const LIMITS = 'create=600,login=600'

// start brings up Redis and one server. The returned stack can start more
// servers on the same Redis and database (for instance one with a short scene TTL); they
// get the same environment plus what each asks for.
async function start (extraEnv) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scanlogin-mp-'))
  const stack = { dir, servers: [] }
  try {
    const [redis, bin] = await Promise.all([startRedis(dir), buildServer(dir)])
    stack.redis = redis
    stack.bin = bin
    stack.startServer = async env => {
      // Users in one SQLite file of the stack's own, shared like the Redis
      // (the dev signing key lives there too).
      const db = 'sqlite://' + path.join(dir, 'scanlogin.db')
      const s = await startServer(bin, redis.url, Object.assign({ SCANLOGIN_RATE_LIMITS: LIMITS, SCANLOGIN_DATABASE_URL: db }, extraEnv, env))
      stack.servers.push(s)
      return s
    }
    stack.server = await stack.startServer({})
    stack.url = stack.server.url
  } catch (e) {
    await stop(stack)
    throw e
  }
  stack.stop = () => stop(stack)
  return stack
}

async function stop (stack) {
  for (const s of stack.servers || []) await s.stop()
  if (stack.redis) await kill(stack.redis.child)
  for (const c of [...children]) await kill(c)
  fs.rmSync(stack.dir, { recursive: true, force: true })
}

module.exports = { start, REPO, LIMITS }
