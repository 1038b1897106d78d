// Every word of the login page, the phone simulator, the landing page and
// the error page, in Simplified Chinese and English: one table per page,
// the same keys in both languages (a test compares them). The widget
// (scanlogin.js) is a self-contained script and keeps its own table.

const DEFAULT_SITE = 'scanlogin demo'; // SCANLOGIN_SITE_NAME's default, shown in the reader's language

// zh fills a Chinese sentence with names: a space the template writes beside
// a name separates Chinese from a Latin one ("登录到 Grafana") and goes
// between Chinese and a Chinese one ("登录到内部系统"), as Chinese is written.
const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;
const zh = (parts, ...names) => parts.reduce((out, part, i) => {
  const name = String(names[i - 1]);
  if (out.endsWith(' ') && CJK.test(out[out.length - 2]) && CJK.test(name[0])) out = out.slice(0, -1);
  if (part.startsWith(' ') && CJK.test(part[1]) && CJK.test(name[name.length - 1])) part = part.slice(1);
  return out + name + part;
});

export const TEXT = {
  page: {
    en: {
      title: 'Sign in', signIn: 'Sign in', signedIn: "You're signed in", userID: 'User ID', since: 'Signed in at',
      signOut: 'Sign out', signingOut: 'Signing out…', signedOut: 'You have signed out.',
      signOutFailed: 'Could not sign out. Please try again.', devLink: 'No phone at hand? Open the phone simulator',
      rpLink: 'Demo: sign in to an application through OpenID Connect',
      signInTo: (n) => `Sign in to ${n}`, continuing: 'Signed in. Returning to the application…',
      footer: 'Sign-in by WeChat scan. This page keeps its login secrets in memory only.',
      welcome: (n) => `Signed in as ${n}.`, unnamed: 'WeChat user', avatarAlt: (n) => `Profile picture of ${n}`,
      defaultSite: 'scanlogin demo', language: 'Language',
    },
    zh: {
      title: '登录', signIn: '登录', signedIn: '你已登录', userID: '用户 ID', since: '登录时间',
      signOut: '退出登录', signingOut: '正在退出…', signedOut: '你已退出登录。',
      signOutFailed: '退出失败，请重试。', devLink: '手边没有手机？打开手机模拟器',
      rpLink: '演示：通过 OpenID Connect 登录一个示例应用',
      signInTo: (n) => zh`登录到 ${n}`, continuing: '已登录，正在返回应用…',
      footer: '微信扫码登录。本页面只在内存中保存登录凭据。',
      welcome: (n) => `已登录：${n}`, unnamed: '微信用户', avatarAlt: (n) => zh`${n} 的头像`,
      defaultSite: 'scanlogin 演示', language: '语言',
    },
  },
  phone: {
    en: {
      simulated: 'Simulated mini-program (dev mode)', sceneTitle: 'Which code?',
      sceneLead: 'Paste the scene of the login code. Scanning the code with a phone camera opens this page with it filled in.',
      sceneLabel: 'Scene', continue: 'Continue', userTitle: 'Who is scanning?',
      userLead: 'This page plays the WeChat mini-program. Pick the test WeChat user who scanned the code.',
      someoneElse: 'Someone else', nickname: 'Nickname', scan: 'Scan the code', scanning: 'Scanning…',
      signingInAs: 'Signing in as', confirmTitle: (site) => `Sign in to ${site} on a computer?`,
      ip: 'Browser IP', browser: 'Browser', time: 'Requested', requestLabel: 'Browser asking to sign in',
      warning: (site) => `Only confirm a login code that is on a screen you are looking at right now. ${site} never sends login codes by message or email: if someone sent you this code, tap Decline.`,
      matchLegend: 'Choose the number shown on the computer screen', pickFirst: 'Choose the number shown on the computer first.',
      expiresIn: (s) => `This request expires in ${s} s`, decline: 'Decline', confirm: 'Confirm',
      confirming: 'Signing in…', declining: 'Declining…', again: 'Enter another code',
      doneTitle: 'Signed in on the computer', doneText: 'You can go back to the computer now.',
      declinedTitle: 'Sign-in declined', declinedText: 'The computer was not signed in.',
      failedTitle: 'Could not sign in', unknownBrowser: 'Unknown browser', ago: (s) => s < 5 ? 'just now' : `${s} s ago`,
      at: (time, ago) => `${time} (${ago})`,
      invalidUser: 'Enter an OpenID of letters, digits, _ or -.', network: 'Network problem. Check the connection and try again.',
      defaultSite: 'scanlogin demo',
      errors: {
        already_scanned: 'Someone else has already scanned this code.',
        scene_expired: 'This code has expired. Get a new one on the computer and scan again.',
        scene_final: 'This code has already been used or cancelled.',
        scene_not_found: 'This code is unknown or too old. Get a new one on the computer.',
        not_scanner: 'This code was scanned by another WeChat user.',
        not_scanned: 'Scan the code before confirming.',
        match_mismatch: 'That number did not match the computer. The login was cancelled to keep you safe.',
        rate_limited: 'Too many attempts. Wait a moment and try again.',
        invalid_code: 'WeChat login failed. Try again.',
        wechat_unavailable: 'WeChat is not answering. Try again in a moment.',
        unavailable: 'The service is busy. Try again in a moment.',
        overloaded: 'The service is busy. Try again in a moment.',
      },
      generic: 'Something went wrong. Try again.',
      // Opened by "Open in WeChat" (the URL Link, via=link): the browser
      // asking is on this phone. These replace the strings above, as the
      // mini-program's scanLink replaces its scan strings.
      link: {
        confirmTitle: (site) => `Sign in to ${site} in your phone's browser?`,
        warning: (site) => `Confirm only if you just opened the ${site} sign-in page in this phone's browser and tapped "Open in WeChat". ${site} never sends sign-in links by message or email: if someone sent you this link, tap Decline.`,
        matchLegend: 'Choose the number shown in your browser', pickFirst: 'Choose the number shown in your browser first.',
        doneTitle: 'Sign-in confirmed', doneText: 'You can go back to your browser now; it signs in by itself.',
        declinedText: 'The browser was not signed in.',
        errors: {
          already_scanned: 'Someone else has already opened this sign-in link.',
          scene_expired: 'This sign-in link has expired. Go back to your browser, refresh the sign-in page and try again.',
          scene_final: 'This sign-in link has already been used or cancelled.',
          scene_not_found: 'This sign-in link is unknown or too old. Refresh the sign-in page in your browser.',
          not_scanner: 'This sign-in link was opened by another WeChat user.',
          match_mismatch: 'That number did not match your browser. The login was cancelled to keep you safe.',
        },
      },
    },
    zh: {
      simulated: '模拟小程序（开发模式）', sceneTitle: '要扫哪个码？',
      sceneLead: '粘贴登录二维码的 scene。用手机相机扫描电脑上的二维码，会自动填好它并打开本页面。',
      sceneLabel: 'scene 参数', continue: '继续', userTitle: '谁在扫码？',
      userLead: '本页面模拟微信小程序。请选择扫码的测试微信用户。',
      someoneElse: '其他用户', nickname: '昵称', scan: '扫码', scanning: '正在扫码…',
      signingInAs: '登录账号', confirmTitle: (site) => zh`确认在电脑上登录 ${site}？`,
      ip: '浏览器 IP', browser: '浏览器', time: '请求时间', requestLabel: '请求登录的浏览器',
      warning: (site) => zh`请只确认你眼前屏幕上的登录二维码。${site} 不会通过短信或邮件发送登录二维码；如果二维码是别人发给你的，请点“取消登录”。`,
      matchLegend: '请选择电脑屏幕上显示的数字', pickFirst: '请先选择电脑屏幕上显示的数字。',
      expiresIn: (s) => `${s} 秒后失效`, decline: '取消登录', confirm: '确认登录',
      confirming: '正在登录…', declining: '正在取消…', again: '输入其他二维码',
      doneTitle: '已在电脑上登录', doneText: '现在可以回到电脑上继续操作了。',
      declinedTitle: '已取消登录', declinedText: '电脑没有登录。',
      failedTitle: '无法登录', unknownBrowser: '未知浏览器', ago: (s) => s < 5 ? '刚刚' : `${s} 秒前`,
      at: (time, ago) => `${time}（${ago}）`,
      invalidUser: 'OpenID 只能包含字母、数字、_ 或 -。', network: '网络连接失败，请检查网络后重试。',
      defaultSite: 'scanlogin 演示',
      errors: {
        already_scanned: '这个二维码已被其他人扫描。',
        scene_expired: '二维码已失效，请在电脑上刷新后重新扫描。',
        scene_final: '这个二维码已被使用或已取消。',
        scene_not_found: '无法识别这个二维码，或它已失效。请在电脑上刷新二维码。',
        not_scanner: '这个二维码已被其他微信用户扫描。',
        not_scanned: '请先扫码再确认。',
        match_mismatch: '所选数字与电脑上的不一致。为保护你的账号安全，本次登录已取消。',
        rate_limited: '操作太频繁，请稍后再试。',
        invalid_code: '微信登录失败，请重试。',
        wechat_unavailable: '微信暂时无响应，请稍后再试。',
        unavailable: '服务繁忙，请稍后再试。',
        overloaded: '服务繁忙，请稍后再试。',
      },
      generic: '出了点问题，请重试。',
      link: {
        confirmTitle: (site) => zh`确认在手机浏览器中登录 ${site}？`,
        warning: (site) => zh`只有当你刚刚在这部手机的浏览器里打开 ${site} 的登录页，并点了“在微信中打开”时，才点“确认登录”。${site} 不会通过短信、邮件或聊天发送登录链接。如果链接是别人发给你的，请点“取消登录”。`,
        matchLegend: '请选择浏览器页面上显示的数字', pickFirst: '请先选择浏览器页面上显示的数字。',
        doneTitle: '已确认登录', doneText: '现在可以回到浏览器了，网页会自动完成登录。',
        declinedText: '浏览器没有登录。',
        errors: {
          already_scanned: '这个登录链接已被其他人打开。',
          scene_expired: '登录链接已失效，请回到浏览器刷新登录页后再试。',
          scene_final: '这个登录链接已被使用或已取消。',
          scene_not_found: '无法识别这个登录链接，或它已失效。请回到浏览器刷新登录页。',
          not_scanner: '这个登录链接已被其他微信用户打开。',
          match_mismatch: '所选数字与浏览器页面上的不一致。为保护你的账号安全，本次登录已取消。',
        },
      },
    },
  },
  landing: {
    en: {
      title: 'Sign in with WeChat', lead: 'This is a WeChat login code. Scan it with WeChat: open WeChat, tap + then Scan.',
      onPhone: 'Already on your phone? Open the login in WeChat.', open: 'Open in WeChat',
      inWeChat: 'You are in WeChat: tap the button to open the login.', simulator: 'Open the phone simulator (dev mode)',
      invalid: 'This link does not hold a login code. Get a new code on the page you were signing in to.',
      qrAlt: 'Login code. Scan it with WeChat.', defaultSite: 'scanlogin demo',
    },
    zh: {
      title: '微信登录', lead: '这是微信登录二维码。请打开微信，点击右上角“+”，选择“扫一扫”扫描。',
      onPhone: '已经在手机上？直接在微信中打开登录。', open: '在微信中打开',
      inWeChat: '你正在微信中，点击按钮即可打开登录。', simulator: '打开手机模拟器（开发模式）',
      invalid: '这个链接里没有登录二维码。请回到要登录的页面获取新的二维码。',
      qrAlt: '登录二维码，请用微信扫描', defaultSite: 'scanlogin 演示',
    },
  },
  error: {
    en: {
      title: 'This did not work', back: 'Go back and get a new code.',
      codes: {
        scene_expired: 'The login code has expired.', scene_final: 'This login is already finished.',
        scene_not_found: 'This login code is unknown or too old.', rate_limited: 'Too many attempts. Wait a moment.',
        wechat_unavailable: 'WeChat is not answering. Try again in a moment.',
        unavailable: 'The service is busy. Try again in a moment.', overloaded: 'The service is busy. Try again in a moment.',
        invalid_request: 'This link is not valid.',
      },
      generic: 'Something went wrong.',
    },
    zh: {
      title: '操作未完成', back: '请返回页面获取新的二维码。',
      codes: {
        scene_expired: '二维码已失效。', scene_final: '本次登录已结束。',
        scene_not_found: '无法识别该二维码，或它已失效。', rate_limited: '操作太频繁，请稍后再试。',
        wechat_unavailable: '微信暂时无响应，请稍后再试。',
        unavailable: '服务繁忙，请稍后再试。', overloaded: '服务繁忙，请稍后再试。',
        invalid_request: '该链接无效。',
      },
      generic: '出了点问题。',
    },
  },
};

/** siteLabel shows the default site name in the reader's language. */
export function siteLabel(name, t) {
  return !name || name === DEFAULT_SITE ? t.defaultSite : name;
}
