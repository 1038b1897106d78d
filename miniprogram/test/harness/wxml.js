'use strict'
// A WXML parser and expression evaluator, enough of the real language to
// render this mini-program's pages in Node (and no more: see parseExpr): elements, text, {{ }} bindings in
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
        if (/^model:|^capture-(bind|catch)|^wx:(?!if$|elif$|else$|for$|for-item$|for-index$|key$)/.test(name)) {
          fail('attribute ' + name + ' on <' + tag + '> is not modelled by the test harness')
        }
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

// WXML's {{ }} language is a small subset of JavaScript expressions (see
// WeChat's data-binding docs): literals,
// names, member access, unary ! - +, arithmetic, comparison, && ||, ?:, and
// array literals. No function calls (WXS does that), no arrow functions, no
// template literals, no optional chaining or ??, no assignment, no `new`.
// This parser accepts exactly that and throws on anything else, at load time,
// so a page the harness renders is one WeChat can render.

const PUNCT = ['===', '!==', '==', '!=', '<=', '>=', '&&', '||', '?.', '??', '=>', '**', '...',
  '+', '-', '*', '/', '%', '<', '>', '!', '?', ':', '.', '[', ']', '(', ')', ',', '{', '}', '=', '`', '&', '|', '~', '^', ';']
const REFUSED = {
  '?.': 'optional chaining (?.)',
  '??': 'nullish coalescing (??)',
  '=>': 'arrow functions',
  '`': 'template literals',
  '**': 'the ** operator',
  '...': 'spread (only in <template data>, which the harness does not model)',
  '=': 'assignment',
  '{': 'object literals (only in <template data>)'
}
const BINARY = [['||'], ['&&'], ['==', '!=', '===', '!=='], ['<', '>', '<=', '>='], ['+', '-'], ['*', '/', '%']]
const KEYWORDS = { true: true, false: false, null: null, undefined }
const REFUSED_WORDS = new Set(['new', 'typeof', 'instanceof', 'in', 'function', 'this', 'delete', 'void', 'class', 'await', 'yield'])

function tokenize (src) {
  const out = []
  let i = 0
  while (i < src.length) {
    const c = src[i]
    if (/\s/.test(c)) { i++; continue }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] || ''))) {
      // Decimal only: wcc refuses 0x10 and 1e3.
      const m = /^(?:\d+\.?\d*|\.\d+)/.exec(src.slice(i))
      if (/[\w$]/.test(src[i + m[0].length] || '')) throw new Error('unexpected ' + JSON.stringify(src.slice(i, i + m[0].length + 1)) + ': only decimal numbers are WXML')
      out.push({ t: 'num', v: Number(m[0]) })
      i += m[0].length
      continue
    }
    if (c === '"' || c === "'") {
      let j = i + 1
      let v = ''
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          const e = src[j + 1]
          v += { n: '\n', t: '\t', r: '\r' }[e] || e
          j += 2
        } else {
          v += src[j++]
        }
      }
      if (j >= src.length) throw new Error('unterminated string')
      out.push({ t: 'str', v })
      i = j + 1
      continue
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][\w$]*/.exec(src.slice(i))
      out.push({ t: 'name', v: m[0] })
      i += m[0].length
      continue
    }
    const p = PUNCT.find(q => src.startsWith(q, i))
    if (!p) throw new Error('unexpected ' + JSON.stringify(c))
    if (REFUSED[p]) throw new Error(REFUSED[p] + ': not WXML')
    if (['&', '|', '~', '^', ';'].includes(p)) throw new Error('"' + p + '" is not WXML')
    out.push({ t: 'p', v: p })
    i += p.length
  }
  return out
}

// parseExpr returns a function (scope) => value.
function parseExpr (src) {
  const toks = tokenize(src)
  let k = 0
  const peek = v => toks[k] && toks[k].t === 'p' && toks[k].v === v
  const take = v => { if (!peek(v)) throw new Error('expected "' + v + '"' + (toks[k] ? ' before ' + JSON.stringify(toks[k].v) : ' at the end')); k++ }

  function ternary () {
    const cond = binary(0)
    if (!peek('?')) return cond
    k++
    const a = ternary()
    take(':')
    const b = ternary()
    return s => cond(s) ? a(s) : b(s)
  }
  function binary (level) {
    if (level === BINARY.length) return unary()
    let left = binary(level + 1)
    while (toks[k] && toks[k].t === 'p' && BINARY[level].includes(toks[k].v)) {
      const op = toks[k++].v
      const l = left
      const r = binary(level + 1)
      left = {
        '||': s => l(s) || r(s),
        '&&': s => l(s) && r(s),
        '==': s => l(s) == r(s), // eslint-disable-line eqeqeq
        '!=': s => l(s) != r(s), // eslint-disable-line eqeqeq
        '===': s => l(s) === r(s),
        '!==': s => l(s) !== r(s),
        '<': s => l(s) < r(s),
        '>': s => l(s) > r(s),
        '<=': s => l(s) <= r(s),
        '>=': s => l(s) >= r(s),
        '+': s => l(s) + r(s),
        '-': s => l(s) - r(s),
        '*': s => l(s) * r(s),
        '/': s => l(s) / r(s),
        '%': s => l(s) % r(s)
      }[op]
    }
    return left
  }
  function unary () {
    if (peek('!')) { k++; const e = unary(); return s => !e(s) }
    if (peek('-')) { k++; const e = unary(); return s => -e(s) }
    if (peek('+')) throw new Error('unary "+" is not WXML')
    const p = primary()
    if (p.member) return postfix(p.e)
    if (peek('.') || peek('[') || peek('(')) throw new Error('member access on a literal or a parenthesized expression is not WXML')
    return p.e
  }
  function postfix (e) {
    for (;;) {
      if (peek('.')) {
        k++
        const n = toks[k++]
        if (!n || n.t !== 'name') throw new Error('expected a name after "."')
        const obj = e
        e = s => { const o = obj(s); return o === undefined || o === null ? undefined : o[n.v] }
      } else if (peek('[')) {
        k++
        const idx = ternary()
        take(']')
        const obj = e
        e = s => { const o = obj(s); return o === undefined || o === null ? undefined : o[idx(s)] }
      } else if (peek('(')) {
        throw new Error('function calls are not WXML (use WXS, or compute the value in the page)')
      } else {
        return e
      }
    }
  }
  // primary returns the expression and whether wcc lets ".x" or "[i]"
  // follow it: after a name or an array literal only, never after another
  // literal or ( ) (wcc refuses 'a'.length, true.x, (a).x).
  function primary () {
    const tok = toks[k++]
    if (!tok) throw new Error('unexpected end')
    if (tok.t === 'num' || tok.t === 'str') return { e: () => tok.v, member: false }
    if (tok.t === 'name') {
      if (REFUSED_WORDS.has(tok.v)) throw new Error('"' + tok.v + '" is not WXML')
      if (tok.v in KEYWORDS) return { e: () => KEYWORDS[tok.v], member: false }
      return { e: s => s[tok.v], member: true }
    }
    if (tok.v === '(') { const e = ternary(); take(')'); return { e, member: false } }
    if (tok.v === '[') {
      const items = []
      while (!peek(']')) {
        items.push(ternary())
        if (!peek(']')) {
          if (!toks[k] || toks[k].v !== ',') throw new Error('expected "," or "]"')
          k++
          if (peek(']')) throw new Error('a trailing comma in [ ] is not WXML')
        }
      }
      k++
      return { e: s => items.map(f => f(s)), member: true }
    }
    throw new Error('unexpected ' + JSON.stringify(tok.v))
  }

  // A comma is WXML only inside [ ]: a comma left over here is an error.
  const e = ternary()
  if (k < toks.length) throw new Error(peek(',') ? 'comma expressions are not WXML' : 'unexpected ' + JSON.stringify(toks[k].v))
  return e
}

const compiled = new Map()

function compile (expr) {
  let fn = compiled.get(expr)
  if (!fn) {
    try {
      fn = parseExpr(expr)
    } catch (e) {
      throw new Error('WXML expression {{' + expr + '}}: ' + e.message)
    }
    compiled.set(expr, fn)
  }
  return fn
}

function evaluate (expr, scope) {
  return compile(expr)(scope)
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

module.exports = { parse, interpolate, evaluate, toText, compile }
