// Display helpers shared by the pages.
const i18n = require('./i18n.js')

/** @param {number} n */
function pad (n) {
  return (n < 10 ? '0' : '') + n
}

/**
 * dateTime renders an RFC 3339 timestamp in the phone's local time,
 * "2024-05-01 14:03:09" (read the same way in Chinese and English); anything
 * unparsable is shown as it came.
 * @param {string} [value]
 */
function dateTime (value) {
  if (!value) return ''
  const d = new Date(value)
  if (isNaN(d.getTime())) return String(value)
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
    ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds())
}

/**
 * ago renders how long ago a timestamp was, coarse enough to read at a
 * glance: "刚刚", "3 分钟前" / "just now", "3 min ago".
 * @param {string} [value]
 * @param {number} [now] milliseconds since the epoch (default: now)
 */
function ago (value, now) {
  const t = new Date(value || '').getTime()
  if (isNaN(t)) return ''
  const s = Math.max(0, Math.round(((now || Date.now()) - t) / 1000))
  if (s < 60) return i18n.t('common.justNow')
  if (s < 3600) return i18n.t('common.minutesAgo', { n: Math.floor(s / 60) })
  if (s < 86400) return i18n.t('common.hoursAgo', { n: Math.floor(s / 3600) })
  return i18n.t('common.daysAgo', { n: Math.floor(s / 86400) })
}

// Browser and app names the server's label writes in English
// (server/useragent.go) that have a Chinese name of their own; the rest
// (Chrome, Safari, Edge, Windows, iOS...) are written the same in Chinese.
const ZH_NAMES = [
  ['Samsung Internet', '三星浏览器'],
  ['Internet Explorer', 'IE 浏览器'],
  ['Headless Chrome', 'Chrome 无界面版'],
  ['QQ Browser', 'QQ浏览器'],
  ['UC Browser', 'UC浏览器'],
  ['DingTalk', '钉钉'],
  ['WeChat', '微信']
]

/**
 * browserLabel shows the server's label for a browser ("WeChat 8 · iOS 17")
 * in the user's language ("微信 8 · iOS 17").
 * @param {string} [label]
 */
function browserLabel (label) {
  let out = String(label || '')
  if (i18n.lang() !== 'zh') return out
  for (const [en, zh] of ZH_NAMES) out = out.split(en).join(zh)
  return out
}

module.exports = { dateTime, ago, browserLabel }
