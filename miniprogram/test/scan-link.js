'use strict'
// Runs the real confirm page (pages/scan/scan) in the harness as WeChat
// opens it for a plain-link QR code: options.q = the code's URL, URI-encoded,
// and options.scancode_time. Then taps 登录 (confirm). Used by the Go
// end-to-end test of link mode (web/linkmode_test.go), which starts the
// server, reads the code in Chromium and decodes it:
//
//   node test/scan-link.js <server URL> <QR content> <scancode_time>
//
// It prints the page's final state as JSON and exits 0 when it confirmed.
const { newPhone } = require('./helpers/phone.js')

async function main () {
  const [server, content, scancodeTime] = process.argv.slice(2)
  if (!server || !content) throw new Error('usage: scan-link.js <server> <content> [scancode_time]')
  const p = newPhone({ server })
  const app = p.launch()
  await app.whenLoggedIn()
  const page = p.open('pages/scan/scan', { q: encodeURIComponent(content), scancode_time: scancodeTime || '' })
  await page.waitFor(() => page.data.state !== 'loading', { what: 'scan' })
  const scanned = { state: page.data.state, scene: page.instance.scene, message: page.data.message }
  if (page.data.state !== 'ready') {
    console.log(JSON.stringify({ scanned }))
    process.exit(1)
  }
  await page.tap(page.get('#confirm'))
  await page.waitFor(() => page.data.state !== 'working' && page.data.state !== 'ready', { what: 'confirm' })
  console.log(JSON.stringify({ scanned, confirmed: page.data.state }))
  page.close()
  process.exit(page.data.state === 'confirmed' ? 0 : 1)
}

main().catch(e => { console.error(e && e.stack || e); process.exit(2) })
