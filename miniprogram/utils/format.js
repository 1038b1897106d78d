// Display helpers shared by the pages.

function pad (n) {
  return (n < 10 ? '0' : '') + n
}

// dateTime renders an RFC 3339 timestamp in the phone's local time,
// "2024-05-01 14:03:09"; anything unparsable is shown as it came.
function dateTime (value) {
  if (!value) return ''
  const d = new Date(value)
  if (isNaN(d.getTime())) return String(value)
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
    ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds())
}

// ago renders how long ago a timestamp was, coarse enough to read at a glance.
function ago (value, now) {
  const t = new Date(value).getTime()
  if (isNaN(t)) return ''
  const s = Math.max(0, Math.round(((now || Date.now()) - t) / 1000))
  if (s < 60) return 'just now'
  if (s < 3600) return Math.floor(s / 60) + ' min ago'
  if (s < 86400) return Math.floor(s / 3600) + ' h ago'
  return Math.floor(s / 86400) + ' d ago'
}

module.exports = { dateTime, ago }
