// Finding a login scene in what opened a page or what the camera read.

const SCENE_RE = /^[0-9a-f]{32}$/

/**
 * sceneFrom finds the scene in the page options, or in a wx.scanCode
 * result given as options (scene: res.path, q: res.result):
 * - options.scene from a mini-program code (URL-encoded by WeChat), or the
 *   code's path ("pages/scan/scan?scene=..."),
 * - a "scene=..." value typed into DevTools' launch parameters, which may
 *   arrive still wrapped ("scene%3D...") or as a query string,
 * - options.q from a plain-link QR code (server link mode, README.md "QR
 *   modes"): its URL, with the scene as the last path segment (prefix
 *   ending in /) or the last query value (prefix ending in =), or ?scene=.
 * @param {Record<string, string | undefined>} options
 * @returns {string} the scene, lower case, or ''
 */
function sceneFrom (options) {
  const candidates = []
  if (options.scene) candidates.push(options.scene)
  if (options.q) candidates.push(options.q)
  for (let raw of candidates) {
    raw = String(raw)
    try { raw = decodeURIComponent(raw) } catch (e) { /* keep as is */ }
    const m = raw.match(/(?:^|[?&])scene=([^&#]*)/)
    if (m) {
      try { raw = decodeURIComponent(m[1]) } catch (e) { raw = m[1] }
    }
    raw = raw.trim().toLowerCase()
    if (SCENE_RE.test(raw)) return raw
    const tail = raw.match(/[/=]([0-9a-f]{32})$/)
    if (tail) return tail[1]
  }
  return ''
}

module.exports = { sceneFrom }
