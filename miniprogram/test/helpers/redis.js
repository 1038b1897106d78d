'use strict'
// One Redis command over a raw socket (RESP), for the few tests that change
// server state behind the server's back (revoking or expiring a token).

const net = require('node:net')

function command (port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1')
    let buf = ''
    sock.setTimeout(3000)
    sock.on('connect', () => {
      sock.write('*' + args.length + '\r\n' + args.map(a => '$' + Buffer.byteLength(String(a)) + '\r\n' + a + '\r\n').join(''))
    })
    sock.on('data', d => {
      buf += d
      const m = /^([+\-:])(.*)\r\n/.exec(buf) || /^\$(-1)\r\n/.exec(buf)
      const bulk = /^\$(\d+)\r\n/.exec(buf)
      if (bulk && buf.length >= bulk[0].length + Number(bulk[1]) + 2) {
        sock.destroy()
        resolve(buf.slice(bulk[0].length, bulk[0].length + Number(bulk[1])))
      } else if (m && !bulk) {
        sock.destroy()
        if (m[1] === '-') reject(new Error('redis: ' + m[2]))
        else if (m[1] === ':') resolve(Number(m[2]))
        else if (m[1] === '+') resolve(m[2])
        else resolve(null)
      }
    })
    sock.on('timeout', () => { sock.destroy(); reject(new Error('redis: timeout')) })
    sock.on('error', reject)
  })
}

module.exports = { command }
