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

module.exports = { dateTime, ago }
