// The consent popup WeChat's privacy check asks for. Put <privacy-popup /> on
// every page that uses avatar, nickname, phone number or camera; utils/privacy.js
// opens the one on the page in front.
const privacy = require('../../utils/privacy.js')
const i18n = require('../../utils/i18n.js')

// The pending authorization's resolve, per popup instance (a Component's
// instance has no room for fields of its own).
/** @type {WeakMap<object, (result: {event: string, buttonId?: string}) => void>} */
const pending = new WeakMap()

Component({
  data: {
    show: false,
    t: i18n.strings('privacy'),
    contractName: ''
  },

  lifetimes: {
    attached () {
      const t = i18n.strings('privacy')
      this.setData({ t, contractName: t.contract })
      privacy.register(this)
      if (typeof wx.getPrivacySetting === 'function') {
        wx.getPrivacySetting({
          success: res => {
            if (res.privacyContractName) this.setData({ contractName: res.privacyContractName })
          }
        })
      }
    },
    detached () {
      privacy.unregister(this)
      this.finish({ event: 'disagree' })
    }
  },

  methods: {
    // open shows the popup for one pending authorization. A second request
    // while one is pending refuses the first (WeChat only waits for the last).
    /** @param {(result: {event: string, buttonId?: string}) => void} resolve */
    open (resolve) {
      const before = pending.get(this)
      if (before && before !== resolve) before({ event: 'disagree' })
      pending.set(this, resolve)
      this.setData({ show: true })
    },

    onOpenContract () {
      wx.openPrivacyContract({})
    },

    // Bound to the open-type="agreePrivacyAuthorization" button: tapping it is
    // what WeChat records as consent; the resolve names that button.
    onAgree () {
      this.finish({ event: 'agree', buttonId: 'agree-btn' })
    },

    onDisagree () {
      this.finish({ event: 'disagree' })
    },

    /** @param {{event: string, buttonId?: string}} result */
    finish (result) {
      const resolve = pending.get(this)
      pending.delete(this)
      if (this.data.show) this.setData({ show: false })
      if (resolve) {
        resolve(result)
        this.triggerEvent(result.event)
      }
    }
  }
})
