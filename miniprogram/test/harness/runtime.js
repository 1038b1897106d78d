'use strict'
// A small mini-program runtime for Node. It loads the project's real files
// (app.json, app.js, each page's .js/.json/.wxml, components) the way WeChat
// does: modules are CommonJS with relative require(), App()/Page()/Component()
// register definitions, pages are instantiated with their data, lifecycle
// hooks run (onLaunch/onShow, onLoad/onShow/onReady/onUnload, attached/
// detached), setData re-renders the WXML, and tests find elements in the
// rendered tree and fire the events WeChat would (tap, form submit, input,
// chooseavatar, getphonenumber, agreeprivacyauthorization), which call the
// handlers named by the elements' bind/catch attributes.
//
// The `wx` object is supplied by the caller (see wx.js). Mini-program code sees
// only the globals a mini-program has: Node's process, require, fetch, Buffer
// are shadowed.

const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')
const wxml = require('./wxml.js')

const SHADOWED = ['process', 'global', 'globalThis', 'window', 'document', 'fetch', 'Buffer', 'setImmediate', '__dirname', '__filename']
const PARAMS = ['require', 'module', 'exports', 'wx', 'App', 'Page', 'Component', 'Behavior', 'getApp', 'getCurrentPages'].concat(SHADOWED)

function clone (v) {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v))
}

// setPath applies one setData key: "a", "a.b", "list[2].name".
function setPath (obj, key, value) {
  const parts = []
  key.replace(/[^.[\]]+|\[(\d+)\]/g, (m, idx) => { parts.push(idx !== undefined ? Number(idx) : m) })
  let cur = obj
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]
    if (cur[p] === null || typeof cur[p] !== 'object') cur[p] = typeof parts[i + 1] === 'number' ? [] : {}
    cur = cur[p]
  }
  cur[parts[parts.length - 1]] = value
}

function datasetOf (attrs) {
  const ds = {}
  for (const k of Object.keys(attrs)) {
    if (k.startsWith('data-')) {
      ds[k.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = attrs[k]
    }
  }
  return ds
}

function classesOf (v) {
  return String(v.attrs.class || '').split(/\s+/).filter(Boolean)
}

// A very small selector language: tag, #id, .class and [attr] / [attr=value],
// combined without spaces (e.g. 'button#confirm', 'button[bindtap=onPick]').
function compileSelector (sel) {
  const re = /([A-Za-z][\w-]*)|#([\w-]+)|\.([\w-]+)|\[([\w:-]+)(?:=(?:"([^"]*)"|'([^']*)'|([^\]]*)))?\]/gy
  const tests = []
  let m
  while (re.lastIndex < sel.length && (m = re.exec(sel))) {
    if (m[1]) { const t = m[1]; tests.push(v => v.tag === t) } else if (m[2]) { const id = m[2]; tests.push(v => v.attrs.id === id) } else if (m[3]) { const c = m[3]; tests.push(v => classesOf(v).includes(c)) } else {
      const name = m[4]
      const val = m[5] !== undefined ? m[5] : m[6] !== undefined ? m[6] : m[7]
      tests.push(v => name in v.attrs && (val === undefined || String(v.attrs[name]) === val))
    }
  }
  if (re.lastIndex !== sel.length || !tests.length) throw new Error('unsupported selector ' + JSON.stringify(sel))
  return v => tests.every(t => t(v))
}

// What the harness models of Component() and Page(). Anything else fails the
// load loudly: a feature it ignored would make a test pass that WeChat fails.
const COMPONENT_KEYS = new Set(['data', 'properties', 'methods', 'lifetimes', 'options'])
const COMPONENT_LIFETIMES = new Set(['created', 'attached', 'detached'])
const COMPONENT_OPTIONS = new Set(['styleIsolation', 'addGlobalClass', 'multipleSlots', 'virtualHost', 'pureDataPattern'])
const PAGE_REFUSED = new Set(['behaviors', 'observers', 'relations', 'pageLifetimes', 'lifetimes', 'externalClasses', 'definitionFilter', 'export', 'properties', 'options', 'onPageScroll', 'onReachBottom', 'onResize', 'onTabItemTap', 'onShareAppMessage', 'onShareTimeline', 'onAddToFavorites', 'onSaveExitState', 'onHide'])
const APP_REFUSED = new Set(['onHide', 'onError', 'onPageNotFound', 'onUnhandledRejection', 'onThemeChange'])

function checkComponentDef (def, where) {
  for (const k of Object.keys(def)) {
    if (!COMPONENT_KEYS.has(k)) {
      throw new Error(where + ': Component({' + k + '}) is not modelled by the test harness (it models ' + [...COMPONENT_KEYS].join(', ') + ')')
    }
  }
  for (const k of Object.keys(def.lifetimes || {})) {
    if (!COMPONENT_LIFETIMES.has(k)) throw new Error(where + ': lifetimes.' + k + ' is not modelled by the test harness')
  }
  for (const k of Object.keys(def.options || {})) {
    if (!COMPONENT_OPTIONS.has(k)) throw new Error(where + ': options.' + k + ' is not modelled by the test harness')
  }
  for (const [k, spec] of Object.entries(def.properties || {})) {
    if (spec && typeof spec === 'object' && ('observer' in spec || 'optionalTypes' in spec)) {
      throw new Error(where + ': property ' + k + ' uses observer/optionalTypes, not modelled by the test harness')
    }
  }
}

function checkPageDef (def, where) {
  for (const k of Object.keys(def)) {
    if (PAGE_REFUSED.has(k)) throw new Error(where + ': Page({' + k + '}) is not modelled by the test harness')
  }
}

class MiniProgram {
  // root: the mini-program directory; wx: the API object; env: the adapter's
  // state (privacy gate, chosen avatar file, phone code) or null.
  constructor ({ root, wx, env }) {
    this.root = path.resolve(root)
    this.wx = wx
    this.env = env || {}
    this.modules = new Map()
    this.pageDefs = new Map()
    this.componentDefs = new Map()
    this.stack = []
    this.errors = []
    this.appJSON = this.readJSON('app.json')
    this.app = null
    this.nextId = 1
    this.pendingAttached = []
    // The strict wx (wx.js) checks navigation against app.json and the stack,
    // and reports what WeChat would refuse among this runtime's errors.
    this.env.pages = this.appJSON.pages.slice()
    this.env.stackDepth = () => this.stack.length
    this.env.currentRoute = () => (this.stack.length ? this.stack[this.stack.length - 1].instance.route : '')
    this.env.onViolation = e => this.errors.push(e)
    // Every text a person could read on any page so far (text nodes, and the
    // placeholder, title and alt attributes), for the untranslated-string check.
    this.shown = new Set()
  }

  readJSON (rel) {
    return JSON.parse(fs.readFileSync(path.join(this.root, rel), 'utf8'))
  }

  // --- modules -----------------------------------------------------------

  resolve (fromDir, request) {
    let p = request.startsWith('/') ? path.join(this.root, request) : path.resolve(fromDir, request)
    if (!p.endsWith('.js')) p += '.js'
    if (!p.startsWith(this.root + path.sep)) throw new Error('require outside the mini-program: ' + request)
    if (!fs.existsSync(p)) throw new Error('module not found: ' + request + ' (from ' + path.relative(this.root, fromDir) + ')')
    return p
  }

  load (file) {
    const cached = this.modules.get(file)
    if (cached) return cached.exports
    const module = { exports: {} }
    this.modules.set(file, module)
    const code = fs.readFileSync(file, 'utf8')
    const fn = vm.compileFunction(code, PARAMS, { filename: file })
    const dir = path.dirname(file)
    const self = this
    const requireFn = r => self.load(self.resolve(dir, r))
    const rel = path.relative(this.root, file).replace(/\\/g, '/').replace(/\.js$/, '')
    const globals = {
      App: def => {
        for (const k of Object.keys(def)) if (APP_REFUSED.has(k)) throw new Error(rel + ': App({' + k + '}) is not modelled by the test harness')
        self.appDef = def
      },
      Page: def => { checkPageDef(def, rel); self.pageDefs.set(rel, def) },
      Component: def => { checkComponentDef(def, rel); self.componentDefs.set(rel, def) },
      Behavior: () => { throw new Error(rel + ': Behavior() is not modelled by the test harness') },
      getApp: () => self.app,
      getCurrentPages: () => self.stack.map(p => p.instance)
    }
    fn.call(undefined, requireFn, module, module.exports, this.wx, globals.App, globals.Page,
      globals.Component, globals.Behavior, globals.getApp, globals.getCurrentPages,
      ...SHADOWED.map(() => undefined))
    return module.exports
  }

  // --- app ---------------------------------------------------------------

  // launch runs app.js like a cold start: onLaunch then onShow.
  launch (options) {
    options = Object.assign({ path: this.appJSON.pages[0], query: {}, scene: 1001 }, options)
    this.load(path.join(this.root, 'app.js'))
    if (!this.appDef) throw new Error('app.js did not call App()')
    const app = {}
    for (const [k, v] of Object.entries(this.appDef)) app[k] = typeof v === 'function' ? v : clone(v)
    this.app = app
    this.guard(app, 'onLaunch', options)
    this.guard(app, 'onShow', options)
    return app
  }

  guard (obj, name, ...args) {
    const fn = obj[name]
    if (typeof fn !== 'function') return undefined
    try {
      const r = fn.apply(obj, args)
      if (r && typeof r.then === 'function') {
        return r.catch(e => { this.errors.push(e); throw e })
      }
      return r
    } catch (e) {
      this.errors.push(e)
      throw e
    }
  }

  // --- pages -------------------------------------------------------------

  componentsFor (jsonRel, baseDir) {
    const out = {}
    const add = (using, dir) => {
      for (const [tag, p] of Object.entries(using || {})) {
        out[tag] = p.startsWith('/') ? p.slice(1) : path.relative(this.root, path.resolve(dir, p)).replace(/\\/g, '/')
      }
    }
    add(this.appJSON.usingComponents, this.root)
    add(this.readJSON(jsonRel).usingComponents, baseDir)
    return out
  }

  // openPage navigates to route (as wx.navigateTo would) and runs onLoad,
  // onShow and onReady. query values are passed as WeChat passes them.
  openPage (route, query) {
    if (!this.app) throw new Error('launch() the app first')
    if (!this.appJSON.pages.includes(route)) throw new Error('page not in app.json: ' + route)
    const file = path.join(this.root, route + '.js')
    if (!this.pageDefs.has(route)) this.load(file)
    const def = this.pageDefs.get(route)
    if (!def) throw new Error(route + '.js did not call Page()')
    const ast = wxml.parse(fs.readFileSync(path.join(this.root, route + '.wxml'), 'utf8'), route + '.wxml')
    const inst = {}
    for (const [k, v] of Object.entries(def)) {
      if (k !== 'data') inst[k] = typeof v === 'function' ? v : clone(v)
    }
    inst.data = clone(def.data || {})
    inst.route = route
    inst.options = Object.assign({}, query)
    const owner = this.makeOwner(inst, ast, this.componentsFor(route + '.json', path.dirname(file)), route)
    const page = new PageHandle(this, owner)
    this.stack.push(page)
    owner.render()
    this.flushAttached()
    this.guard(inst, 'onLoad', Object.assign({}, query))
    this.guard(inst, 'onShow')
    this.guard(inst, 'onReady')
    return page
  }

  closePage (page) {
    const i = this.stack.indexOf(page)
    if (i < 0) return
    this.stack.splice(i, 1)
    this.guard(page.owner.instance, 'onUnload')
    page.owner.detachAll()
  }

  // --- owners: a page or a component instance with its own tree ---------

  makeOwner (instance, ast, using, name) {
    const mp = this
    const owner = {
      id: this.nextId++,
      name,
      instance,
      ast,
      using,
      tree: [],
      components: new Map(), // path -> component owner
      inputs: new Map(), // path -> {attr, typed}
      host: null,
      render () {
        const seen = new Set()
        owner.tree = mp.renderNodes(ast, instance.data, owner, null, '', seen)
        for (const [p, child] of owner.components) {
          if (!seen.has(p)) {
            owner.components.delete(p)
            child.detachAll()
            mp.guardLifetime(child, 'detached')
          }
        }
      },
      detachAll () {
        for (const child of owner.components.values()) {
          child.detachAll()
          mp.guardLifetime(child, 'detached')
        }
        owner.components.clear()
      }
    }
    instance.setData = (patch, cb) => {
      for (const [k, v] of Object.entries(patch || {})) setPath(instance.data, k, clone(v))
      owner.render()
      mp.flushAttached()
      if (typeof cb === 'function') cb.call(instance)
    }
    instance.selectComponent = sel => {
      const match = compileSelector(sel)
      const host = mp.descendants(owner.tree).find(v => v.component && match(v))
      return host ? host.component.instance : null
    }
    return owner
  }

  guardLifetime (owner, name) {
    const def = owner.def
    const fn = (def.lifetimes && def.lifetimes[name]) || def[name]
    if (typeof fn !== 'function') return
    try {
      fn.call(owner.instance)
    } catch (e) {
      this.errors.push(e)
      throw e
    }
  }

  flushAttached () {
    const pending = this.pendingAttached
    this.pendingAttached = []
    for (const c of pending) this.guardLifetime(c, 'attached')
  }

  mountComponent (parentOwner, compPath, hostV) {
    let def = this.componentDefs.get(compPath)
    if (!def) {
      this.load(path.join(this.root, compPath + '.js'))
      def = this.componentDefs.get(compPath)
      if (!def) throw new Error(compPath + '.js did not call Component()')
    }
    const json = this.readJSON(compPath + '.json')
    if (json.component !== true) throw new Error(compPath + '.json must say "component": true')
    const ast = wxml.parse(fs.readFileSync(path.join(this.root, compPath + '.wxml'), 'utf8'), compPath + '.wxml')
    const inst = {}
    const props = def.properties || {}
    inst.data = clone(def.data || {})
    for (const [k, spec] of Object.entries(props)) {
      inst.data[k] = spec && typeof spec === 'object' && 'value' in spec ? clone(spec.value) : undefined
    }
    inst.properties = inst.data
    inst.is = compPath
    for (const [k, fn] of Object.entries(def.methods || {})) inst[k] = fn
    const owner = this.makeOwner(inst, ast, this.componentsFor(compPath + '.json', path.dirname(path.join(this.root, compPath))), compPath)
    owner.def = def
    owner.host = hostV
    owner.parentOwner = parentOwner
    inst.id = hostV.attrs.id || ''
    inst.dataset = hostV.dataset
    inst.triggerEvent = (name, detail) => {
      this.dispatch(owner.host, name, detail, { bubbles: false })
    }
    this.setProps(owner, hostV)
    this.guardLifetime(owner, 'created')
    owner.render()
    this.pendingAttached.push(owner)
    return owner
  }

  setProps (owner, hostV) {
    const props = owner.def.properties || {}
    let changed = false
    for (const k of Object.keys(props)) {
      if (k in hostV.attrs && JSON.stringify(owner.instance.data[k]) !== JSON.stringify(hostV.attrs[k])) {
        owner.instance.data[k] = clone(hostV.attrs[k])
        changed = true
      }
    }
    return changed
  }

  // --- rendering ---------------------------------------------------------

  renderNodes (ast, scope, owner, parent, basePath, seen) {
    const out = []
    let chain = null // null: no open wx:if chain; true: a branch rendered; false: none yet
    ast.forEach((n, idx) => {
      const p = basePath + '/' + idx
      if (n.type === 'text') {
        const text = wxml.interpolate(n.text, scope)
        if (String(text).trim() === '') return // whitespace keeps an if-chain open
        chain = null
        this.shown.add(String(text).trim())
        out.push({ type: 'text', text: String(text), parent, owner })
        return
      }
      const a = n.attrs
      if ('wx:for' in a) {
        chain = null
        const list = wxml.interpolate(a['wx:for'], scope)
        const itemName = a['wx:for-item'] || 'item'
        const indexName = a['wx:for-index'] || 'index'
        let entries
        if (Array.isArray(list)) entries = list.map((v, i) => [i, v])
        else if (typeof list === 'number') entries = Array.from({ length: list }, (_, i) => [i, i])
        else if (typeof list === 'string') entries = Array.from(list).map((v, i) => [i, v])
        else if (list && typeof list === 'object') entries = Object.entries(list)
        else entries = []
        for (const [key, value] of entries) {
          const s = Object.create(scope)
          s[itemName] = value
          s[indexName] = key
          if ('wx:if' in a && !wxml.interpolate(a['wx:if'], s)) continue
          out.push(...this.renderElement(n, s, owner, parent, p + '[' + key + ']', seen))
        }
        return
      }
      if ('wx:if' in a) {
        chain = !!wxml.interpolate(a['wx:if'], scope)
        if (!chain) return
      } else if ('wx:elif' in a) {
        if (chain === null) throw new Error(owner.name + ': wx:elif without wx:if on <' + n.tag + '>')
        if (chain) return
        chain = !!wxml.interpolate(a['wx:elif'], scope)
        if (!chain) return
      } else if ('wx:else' in a) {
        if (chain === null) throw new Error(owner.name + ': wx:else without wx:if on <' + n.tag + '>')
        const done = chain
        chain = null
        if (done) return
      } else {
        chain = null
      }
      out.push(...this.renderElement(n, scope, owner, parent, p, seen))
    })
    return out
  }

  renderElement (n, scope, owner, parent, p, seen) {
    if (n.tag === 'block') return this.renderNodes(n.children, scope, owner, parent, p, seen)
    const attrs = {}
    for (const [k, v] of Object.entries(n.attrs)) {
      if (k.startsWith('wx:')) continue
      attrs[k] = v === true ? true : wxml.interpolate(v, scope)
    }
    const v = { type: 'element', tag: n.tag, attrs, dataset: datasetOf(attrs), parent, owner, children: [], path: p }
    for (const a of ['placeholder', 'title', 'alt', 'aria-label']) {
      if (typeof attrs[a] === 'string' && attrs[a].trim()) this.shown.add(attrs[a].trim())
    }
    if (n.tag === 'input' || n.tag === 'textarea') {
      const st = owner.inputs.get(p)
      if (!st || st.attr !== attrs.value) owner.inputs.set(p, { attr: attrs.value, typed: undefined })
    }
    const compPath = owner.using[n.tag]
    if (compPath) {
      seen.add(p)
      let child = owner.components.get(p)
      if (!child || child.def !== this.componentDefs.get(compPath)) {
        child = this.mountComponent(owner, compPath, v)
        owner.components.set(p, child)
      } else {
        child.host = v
        if (this.setProps(child, v)) child.render()
      }
      v.component = child
      return [v]
    }
    if (n.tag.includes('-')) throw new Error(owner.name + ': <' + n.tag + '> is not a registered component (usingComponents)')
    v.children = this.renderNodes(n.children, scope, owner, v, p, seen)
    return [v]
  }

  childrenOf (v) {
    return v.component ? v.component.tree : (v.children || [])
  }

  descendants (nodes) {
    const out = []
    const visit = list => {
      for (const v of list) {
        if (v.type !== 'element') continue
        out.push(v)
        visit(this.childrenOf(v))
      }
    }
    visit(nodes)
    return out
  }

  // --- events ------------------------------------------------------------

  // hidden: the element or an ancestor (across component hosts) has a truthy
  // hidden attribute. As in WXML, hidden="false" is the string "false": truthy.
  hidden (v) {
    for (let cur = v; cur; cur = cur.parent || cur.owner.host || null) {
      if (cur.attrs && cur.attrs.hidden) return true
    }
    return false
  }

  // dispatch fires one event on an element: its bind/catch handlers, then
  // (when the event bubbles) its ancestors' in the same tree. Returns the
  // handlers' results so tests can await async handlers.
  dispatch (v, type, detail, { bubbles }) {
    const results = []
    const target = { id: v.attrs.id || '', dataset: v.dataset }
    for (let cur = v; cur; cur = bubbles ? cur.parent : null) {
      let stop = false
      for (const [attr, isCatch] of [['bind' + type, false], ['bind:' + type, false], ['catch' + type, true], ['catch:' + type, true], ['mut-bind' + type, false], ['mut-bind:' + type, false]]) {
        const name = cur.attrs[attr]
        if (!name) continue
        const owner = cur.owner
        const fn = owner.instance[name]
        if (typeof fn !== 'function') {
          const e = new Error(owner.name + ': handler "' + name + '" for ' + attr + ' is not a method')
          this.errors.push(e)
          throw e
        }
        const event = {
          type,
          timeStamp: Date.now(),
          target,
          currentTarget: { id: cur.attrs.id || '', dataset: cur.dataset },
          detail: detail === undefined ? {} : detail,
          mark: {}
        }
        results.push(this.guard(owner.instance, name, event))
        if (isCatch) stop = true
      }
      if (stop) break
    }
    return Promise.all(results.map(r => Promise.resolve(r)))
  }

  formValue (form) {
    const value = {}
    const visit = list => {
      for (const v of list) {
        if (v.type !== 'element') continue
        if (v.attrs.name && (v.tag === 'input' || v.tag === 'textarea')) {
          const st = v.owner.inputs.get(v.path)
          value[v.attrs.name] = st && st.typed !== undefined ? st.typed : (v.attrs.value === undefined ? '' : String(v.attrs.value))
        }
        visit(this.childrenOf(v))
      }
    }
    visit(form.children)
    return value
  }

  async tap (v) {
    if (v.type !== 'element') throw new Error('tap: not an element')
    if (this.hidden(v)) throw new Error('tap: <' + v.tag + '> is hidden')
    const disabled = v.attrs.disabled
    if ((v.tag === 'button' || v.tag === 'input') && disabled) {
      throw new Error('tap: <' + v.tag + ' id="' + (v.attrs.id || '') + '"> is disabled')
    }
    const results = [this.dispatch(v, 'tap', { x: 0, y: 0 }, { bubbles: true })]
    if (v.tag === 'button') {
      const formType = v.attrs['form-type']
      if (formType === 'submit') {
        let form = v.parent
        while (form && form.tag !== 'form') form = form.parent
        if (!form) throw new Error('tap: form-type="submit" button outside a <form>')
        results.push(this.dispatch(form, 'submit', { value: this.formValue(form), target: { id: v.attrs.id || '', dataset: v.dataset } }, { bubbles: false }))
      }
      results.push(this.openType(v))
    }
    await Promise.all(results)
  }

  // openType plays what WeChat does after a tap on an open-type button. The
  // privacy-protected ones first pass the adapter's privacy gate, which calls
  // the app's wx.onNeedPrivacyAuthorization listener when consent is missing.
  async openType (v) {
    const env = this.env
    switch (v.attrs['open-type']) {
      case 'chooseAvatar': {
        if (!(await env.privacyGate('chooseAvatar'))) return
        if (!env.avatarFile) throw new Error('tap chooseAvatar: set env.avatarFile first')
        await this.dispatch(v, 'chooseavatar', { avatarUrl: env.avatarFile }, { bubbles: false })
        return
      }
      case 'getPhoneNumber': {
        if (!(await env.privacyGate('getPhoneNumber'))) {
          await this.dispatch(v, 'getphonenumber', { errMsg: 'getPhoneNumber:fail api scope is not declared in the privacy agreement', errno: 112 }, { bubbles: false })
          return
        }
        const detail = env.phoneCode
          ? { errMsg: 'getPhoneNumber:ok', code: env.phoneCode }
          : { errMsg: 'getPhoneNumber:fail user deny' }
        env.phoneCode = null // single use, like the real code
        await this.dispatch(v, 'getphonenumber', detail, { bubbles: false })
        return
      }
      case 'agreePrivacyAuthorization': {
        env.agreeTapped(v.attrs.id || '')
        await this.dispatch(v, 'agreeprivacyauthorization', {}, { bubbles: false })
      }
    }
  }

  // type enters text into an input as the keyboard would (input events).
  // An input type="nickname" is privacy-protected like the others.
  async type (v, text) {
    if (v.tag !== 'input' && v.tag !== 'textarea') throw new Error('type: not an input')
    if (this.hidden(v)) throw new Error('type: input is hidden')
    if (v.attrs.type === 'nickname' && !(await this.env.privacyGate('nickname'))) return
    const st = v.owner.inputs.get(v.path) || { attr: v.attrs.value }
    st.typed = String(text)
    v.owner.inputs.set(v.path, st)
    // input and blur do not bubble in WeChat.
    await this.dispatch(v, 'input', { value: st.typed, cursor: st.typed.length }, { bubbles: false })
    await this.dispatch(v, 'blur', { value: st.typed }, { bubbles: false })
  }
}

// PageHandle is what tests hold: the page instance plus queries and events
// over its rendered tree (components' trees included).
class PageHandle {
  constructor (mp, owner) {
    this.mp = mp
    this.owner = owner
  }

  get instance () { return this.owner.instance }
  get data () { return this.owner.instance.data }

  all () {
    return this.mp.descendants(this.owner.tree)
  }

  queryAll (sel) {
    const match = compileSelector(sel)
    return this.all().filter(match)
  }

  query (sel) {
    return this.queryAll(sel)[0] || null
  }

  // get is query that fails loudly, with the page's text to show why.
  get (sel) {
    const v = this.query(sel)
    if (!v) throw new Error('no element matches ' + sel + ' on ' + this.owner.name + '; page text: ' + this.text())
    return v
  }

  textOf (v) {
    const parts = []
    const visit = list => {
      for (const c of list) {
        if (c.type === 'text') parts.push(c.text.trim())
        else if (!c.attrs.hidden) visit(this.mp.childrenOf(c))
      }
    }
    visit(v ? [v] : this.owner.tree)
    return parts.filter(Boolean).join(' ').replace(/\s+/g, ' ')
  }

  text () {
    return this.textOf(null)
  }

  // buttons finds buttons by their visible text.
  button (label) {
    const b = this.queryAll('button').find(v => this.textOf(v) === label)
    if (!b) throw new Error('no button "' + label + '" on ' + this.owner.name + '; page text: ' + this.text())
    return b
  }

  tap (selOrNode) {
    return this.mp.tap(typeof selOrNode === 'string' ? this.get(selOrNode) : selOrNode)
  }

  type (selOrNode, text) {
    return this.mp.type(typeof selOrNode === 'string' ? this.get(selOrNode) : selOrNode, text)
  }

  trigger (selOrNode, type, detail) {
    return this.mp.dispatch(typeof selOrNode === 'string' ? this.get(selOrNode) : selOrNode, type, detail, { bubbles: false })
  }

  async waitFor (cond, { timeout = 10000, what = 'condition' } = {}) {
    const deadline = Date.now() + timeout
    for (;;) {
      const v = cond()
      if (v) return v
      if (Date.now() > deadline) throw new Error('timed out waiting for ' + what + ' on ' + this.owner.name + '; data: ' + JSON.stringify(this.data) + '; text: ' + this.text())
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  close () {
    this.mp.closePage(this)
  }
}

module.exports = { MiniProgram, PageHandle, compileSelector, setPath }
