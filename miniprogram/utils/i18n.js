// The mini-program's words. Chinese-speaking WeChat users (language zh_CN,
// zh_TW, zh_HK, from wx.getAppBaseInfo, base library >= 2.20.1) get
// Simplified Chinese, everyone else English (README.md, "Language"). Pages
// put strings(page) in their data as `t` and build sentences with format().
const tables = {
  zh: require('./locales/zh.js'),
  en: require('./locales/en.js')
}

/** @returns {'zh' | 'en'} */
function lang () {
  let language = ''
  try {
    if (typeof wx.getAppBaseInfo === 'function') language = wx.getAppBaseInfo().language || ''
  } catch (e) { /* an old base library: fall back to Chinese */ return 'zh' }
  return /^en/i.test(language) ? 'en' : /^zh/i.test(language) || !language ? 'zh' : 'en'
}

/**
 * strings returns one section of the current language's table.
 * @param {'common' | 'index' | 'scan' | 'scanLink' | 'profile' | 'privacy'} section
 * @returns {Record<string, string>}
 */
function strings (section) {
  return tables[lang()][section]
}

// CJK matches a Chinese character or Chinese (full-width) punctuation.
const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/

/**
 * format fills {name} placeholders. A space written beside a placeholder
 * separates Chinese from a Latin name ("登录 Acme？"); between Chinese and a
 * Chinese name it goes ("登录京东？"), as Chinese is written without spaces.
 * @param {string} template
 * @param {Record<string, string | number>} [params]
 */
function format (template, params) {
  const t = String(template)
  return t.replace(/( ?)\{(\w+)\}( ?)/g, (m, before, k, after, at) => {
    if (!params || params[k] === undefined) return m
    const v = String(params[k])
    const prev = t.charAt(at - 1)
    const next = t.charAt(at + m.length)
    if (before && CJK.test(prev) && CJK.test(v.charAt(0))) before = ''
    if (after && CJK.test(next) && CJK.test(v.charAt(v.length - 1))) after = ''
    return before + v + after
  })
}

/**
 * t looks up "section.key" and fills its placeholders.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
function t (key, params) {
  const [section, name] = key.split('.')
  const table = /** @type {Record<string, Record<string, string>>} */ (tables[lang()])
  const s = table[section] && table[section][name]
  return s === undefined ? key : format(s, params)
}

module.exports = { lang, strings, format, t, tables }
