'use strict'
// A WXML parser and expression evaluator, enough of the real language to
// render this mini-program's pages in Node: elements, text, {{ }} bindings in
// text and attributes, wx:if / wx:elif / wx:else, wx:for (with wx:for-item,
// wx:for-index, wx:key), <block>, and custom components. Anything it does not
// implement (<template>, <import>, <include>, <wxs>, <slot>) is a load error
// rather than being silently ignored.

const UNSUPPORTED = new Set(['template', 'import', 'include', 'wxs', 'slot'])

function parse (src, file) {
  let i = 0
  const root = { type: 'root', tag: '', children: [] }
  const stack = [root]
  const fail = msg => {
    const line = src.slice(0, i).split('\n').length
    throw new Error(file + ':' + line + ': ' + msg)
  }
  const top = () => stack[stack.length - 1]

  while (i < src.length) {
    if (src.startsWith('<!--', i)) {
      const j = src.indexOf('-->', i + 4)
      if (j < 0) fail('unclosed comment')
      i = j + 3
      continue
    }
    if (src.startsWith('</', i)) {
      const j = src.indexOf('>', i)
      if (j < 0) fail('unclosed end tag')
      const name = src.slice(i + 2, j).trim()
      const open = stack.pop()
      if (open === root || open.tag !== name) fail('</' + name + '> does not close <' + (open.tag || 'nothing') + '>')
      i = j + 1
      continue
    }
    if (src[i] === '<' && /[A-Za-z]/.test(src[i + 1] || '')) {
      i++
      const nameMatch = /^[A-Za-z][\w\-:.]*/.exec(src.slice(i))
      const tag = nameMatch[0]
      if (UNSUPPORTED.has(tag)) fail('<' + tag + '> is not supported by the test harness')
      i += tag.length
      const attrs = {}
      let selfClosing = false
      for (;;) {
        while (/\s/.test(src[i] || '')) i++
        if (i >= src.length) fail('unclosed <' + tag + '>')
        if (src.startsWith('/>', i)) { selfClosing = true; i += 2; break }
        if (src[i] === '>') { i++; break }
        const am = /^[^\s=/>]+/.exec(src.slice(i))
        if (!am) fail('bad attribute in <' + tag + '>')
        const name = am[0]
        i += name.length
        while (/\s/.test(src[i] || '')) i++
        if (src[i] !== '=') { attrs[name] = true; continue }
        i++
        while (/\s/.test(src[i] || '')) i++
        const q = src[i]
        let value = ''
        if (q === '"' || q === "'") {
          i++
          while (i < src.length && src[i] !== q) {
            if (src.startsWith('{{', i)) {
              const k = src.indexOf('}}', i + 2)
              if (k < 0) fail('unclosed {{ in attribute ' + name)
              value += src.slice(i, k + 2)
              i = k + 2
              continue
            }
            value += src[i++]
          }
          if (src[i] !== q) fail('unclosed attribute ' + name)
          i++
        } else {
          const vm = /^[^\s>]+/.exec(src.slice(i))
          value = vm ? vm[0] : ''
          i += value.length
        }
        if (name in attrs) fail('duplicate attribute ' + name + ' on <' + tag + '>')
        attrs[name] = value
      }
      const node = { type: 'element', tag, attrs, children: [] }
      top().children.push(node)
      if (!selfClosing) stack.push(node)
      continue
    }
    let j = i
    while (j < src.length) {
      if (src.startsWith('{{', j)) {
        const k = src.indexOf('}}', j + 2)
        if (k < 0) fail('unclosed {{ in text')
        j = k + 2
        continue
      }
      if (src[j] === '<') break
      j++
    }
    if (j === i) fail('unexpected "<"')
    top().children.push({ type: 'text', text: src.slice(i, j) })
    i = j
  }
  if (stack.length > 1) fail('unclosed <' + top().tag + '>')
  // Compile every binding now so a syntax error fails at load time, as the
  // real WXML compiler does.
  walk(root.children, n => {
    if (n.type === 'text') bindings(n.text).forEach(compile)
    else Object.values(n.attrs).forEach(v => { if (typeof v === 'string') bindings(v).forEach(compile) })
  })
  return root.children
}

function walk (nodes, fn) {
  for (const n of nodes) {
    fn(n)
    if (n.children) walk(n.children, fn)
  }
}

function bindings (s) {
  const out = []
  const re = /\{\{([\s\S]*?)\}\}/g
  let m
  while ((m = re.exec(s))) out.push(m[1])
  return out
}

const compiled = new Map()

function compile (expr) {
  let fn = compiled.get(expr)
  if (!fn) {
    try {
      // Sloppy-mode `with` over a proxy that claims every name: a WXML
      // expression sees only page data, and unknown names are undefined.
      fn = new Function('__scope', 'with (__scope) { return (' + expr + '\n) }') // eslint-disable-line no-new-func
    } catch (e) {
      throw new Error('WXML expression {{' + expr + '}}: ' + e.message)
    }
    compiled.set(expr, fn)
  }
  return fn
}

function scopeProxy (scope) {
  return new Proxy(scope, {
    has: (t, k) => typeof k === 'string',
    get: (t, k) => (k === Symbol.unscopables ? undefined : t[k])
  })
}

function evaluate (expr, scope) {
  try {
    return compile(expr)(scopeProxy(scope))
  } catch (e) {
    // a.b with a undefined renders as empty in WXML rather than failing.
    if (e instanceof TypeError) return undefined
    throw e
  }
}

function toText (v) {
  if (v === undefined || v === null) return ''
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

// interpolate evaluates a text or attribute value. An attribute that is a
// single {{ }} keeps the value's type (boolean, number, array); anything else
// becomes a string.
function interpolate (s, scope) {
  if (typeof s !== 'string') return s
  const single = /^\{\{([\s\S]*?)\}\}$/.exec(s)
  if (single && !single[1].includes('}}')) return evaluate(single[1], scope)
  return s.replace(/\{\{([\s\S]*?)\}\}/g, (_, e) => toText(evaluate(e, scope)))
}

module.exports = { parse, interpolate, evaluate, toText }
