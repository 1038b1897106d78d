// Privacy authorization (required for chooseAvatar, the nickname input,
// getPhoneNumber and scanCode since base library 2.32.3, enforced by WeChat
// for every mini-program since 2023-10-17: no app.json flag is needed).
//
// When the user first touches a protected component, WeChat calls the
// listener registered with wx.onNeedPrivacyAuthorization and waits for
// resolve({event: 'agree', buttonId}) or resolve({event: 'disagree'}). The
// listener hands that resolve to the <privacy-popup> of the page on top; the
// popup's "Agree" button has open-type="agreePrivacyAuthorization".
const popups = []
let listening = false

function listen () {
  if (listening || typeof wx.onNeedPrivacyAuthorization !== 'function') return
  listening = true
  wx.onNeedPrivacyAuthorization((resolve, eventInfo) => {
    const popup = popups[popups.length - 1]
    if (!popup) {
      // No popup on this page: refuse rather than leave WeChat waiting.
      resolve({ event: 'disagree' })
      return
    }
    popup.open(resolve, eventInfo)
  })
}

function register (popup) {
  if (popups.indexOf(popup) < 0) popups.push(popup)
}

function unregister (popup) {
  const i = popups.indexOf(popup)
  if (i >= 0) popups.splice(i, 1)
}

module.exports = { listen, register, unregister }
