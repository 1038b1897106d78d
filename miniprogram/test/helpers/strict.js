'use strict'
// failOnViolations makes whatever WeChat would refuse (a PATCH, a modal
// button over 4 characters, a toast too long to show, navigation off
// app.json) fail the test that did it: after each test, every phone made
// during it must have an empty env.violations (harness/wx.js).

const { afterEach } = require('node:test')
const assert = require('node:assert/strict')

function failOnViolations (phones) {
  let checked = 0
  afterEach(() => {
    const fresh = phones.slice(checked)
    checked = phones.length
    for (const p of fresh) assert.deepEqual(p.env.violations, [], 'WeChat would refuse this')
  })
}

module.exports = { failOnViolations }
