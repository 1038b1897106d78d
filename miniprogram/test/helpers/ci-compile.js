'use strict'
// Runs miniprogram-ci's compile of the mini-program (as an upload would, with
// nothing uploaded) in a process of its own and prints the packaged file
// names as JSON. Its own process, because miniprogram-ci leaves a worker and
// handles behind that keep Node running: this exits when the compile is done.
//
// Offline: the project needs a private key (only an upload sends anything
// signed with it; a throwaway one is made here) and the project attributes it
// would otherwise fetch from WeChat with that key (its defaults are given).

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const ci = require('miniprogram-ci')

const ROOT = path.resolve(__dirname, '..', '..')

async function main () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scanlogin-ci-'))
  try {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    const keyPath = path.join(dir, 'private.wx0000000000000000.key')
    fs.writeFileSync(keyPath, privateKey.export({ type: 'pkcs1', format: 'pem' }))
    const project = new ci.Project({
      appid: 'wx0000000000000000',
      type: 'miniProgram',
      projectPath: ROOT,
      privateKeyPath: keyPath,
      ignores: ['node_modules/**/*', 'test/**/*']
    })
    project.attr = async () => Object.assign({}, ci.DefaultProjectAttr)
    const out = await ci.getCompiledResult({ project, setting: { useProjectConfig: true }, onProgressUpdate: () => {} })
    process.stdout.write('\nCOMPILED ' + JSON.stringify(Object.keys(out)) + '\n')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().then(() => process.exit(0), err => {
  console.error('miniprogram-ci compile failed:', err)
  process.exit(1)
})
