//go:build !webfake

package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server/servertest"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// Real user agents: Safari on an iPhone, WeChat's browser on iOS and on
// Android (XWEB), WeChat for Windows, desktop Chrome.
const (
	uaIPhoneSafari  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	uaWeChatIOS     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
	uaWeChatAndroid = "Mozilla/5.0 (Linux; Android 13; V2148A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
	uaWeChatWindows = "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090a13) XWEB/8555 Flue"
	uaAndroidChrome = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
	uaDesktop       = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaIPadOS        = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)

// emulatePhone makes a tab a phone: user agent, Accept-Language and
// navigator.languages, a 390x844 touch screen.
func (b *tab) emulatePhone(ua, lang string) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: lang}); err != nil {
		b.t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 3, Mobile: true}); err != nil {
		b.t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}); err != nil {
		b.t.Fatal(err)
	}
}

// TestDeviceDetection: the widget's phone and WeChat detection on real
// user agents.
func TestDeviceDetection(t *testing.T) {
	srv := startServer(t, serverOptions{})
	b := newBrowser(t)
	b.navigate(srv.URL + "/")
	b.wait("widget script", `!!window.ScanLogin`, 10*time.Second)
	for _, tc := range []struct {
		ua             string
		touch          int
		mobile, wechat bool
	}{
		{uaIPhoneSafari, 5, true, false},
		{uaAndroidChrome, 5, true, false},
		{uaWeChatIOS, 5, true, true},
		{uaWeChatAndroid, 5, true, true},
		{uaWeChatWindows, 0, false, true},
		{uaDesktop, 0, false, false},
		{uaIPadOS, 5, true, false},  // iPadOS claims to be a Mac
		{uaIPadOS, 0, false, false}, // a real Mac
	} {
		got := b.str(fmt.Sprintf(`JSON.stringify(ScanLogin.device(%q, %d))`, tc.ua, tc.touch))
		want := fmt.Sprintf(`{"mobile":%t,"wechat":%t}`, tc.mobile, tc.wechat)
		if got != want {
			t.Errorf("device(%.60s…, %d) = %s, want %s", tc.ua, tc.touch, got, want)
		}
	}
}

// TestOpenInWeChat: a phone's browser shows 在微信中打开; its link is a URL
// Link from the (fake) WeChat for the confirm page and this scene; following
// it in dev mode opens the simulator, and confirming there signs in the
// phone's browser, which kept waiting.
func TestOpenInWeChat(t *testing.T) {
	chromium(t)
	inst := servertest.Start(t, servertest.Options{})
	b := newBrowserLang(t, "zh-CN")
	b.emulatePhone(uaIPhoneSafari, "zh-CN")
	b.navigate(inst.URL + "/")
	scene := b.widgetState("#scanlogin", "pending", 15*time.Second)
	open := `document.querySelector('#scanlogin').shadowRoot.querySelector('[data-action=open-in-wechat]')`
	if got := b.str(open + `.textContent`); got != "在微信中打开" {
		t.Fatalf("button says %q", got)
	}
	if b.str(`String(`+open+`.hidden || `+open+`.getBoundingClientRect().height === 0)`) != "false" {
		t.Fatal("the button is not visible")
	}
	if got := b.str(open + `.target`); got != "_blank" {
		t.Errorf("the link opens in %q; the page must keep waiting (want _blank)", got)
	}
	href := b.str(open + `.href`)
	if href != inst.URL+"/api/v1/qr/"+scene+"/link" {
		t.Fatalf("href %q", href)
	}
	if got := b.shadowText("#scanlogin", ".hint"); !strings.Contains(got, "在微信中打开") {
		t.Errorf("hint on a phone = %q", got)
	}
	b.shot("phone-1-open-in-wechat-zh")
	if n := inst.Fake.Calls(wxfake.APIURLLink); n != 0 {
		t.Errorf("%d URL Links made before a tap; they are made on demand", n)
	}

	// The link is the fake WeChat's URL Link to the confirm page.
	req, _ := http.NewRequest("GET", href, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		URLLink string `json:"url_link"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	l, err := inst.Fake.ResolveURLLink(t.Context(), answer.URLLink)
	if err != nil || l.Path != "pages/scan/scan" || l.Query != "scene="+scene+"&via=link" {
		t.Fatalf("link %q opens %+v (%v)", answer.URLLink, l, err)
	}

	// Tapping it (a new tab: WeChat) opens the simulator for this scene.
	wx := b.newTab("wechat")
	wx.emulatePhone(uaWeChatIOS, "zh-CN")
	wx.navigate(href)
	wx.wait("simulator user step", `location.pathname === '/dev/phone' && document.body.dataset.step === 'user'`, 10*time.Second)
	if got := wx.str(`new URLSearchParams(location.search).get('scene')`); got != scene {
		t.Fatalf("simulator opened for scene %q, want %q", got, scene)
	}
	wx.do(chromedp.Click(chromedp.CSS(`#user-list label`)), chromedp.Click(chromedp.ID("scan-button")))
	wx.wait("confirm step", `document.body.dataset.step === 'confirm'`, 10*time.Second)
	if got := wx.str(`document.getElementById('req-browser').textContent`); !strings.Contains(got, "Safari") || strings.Contains(got, "Mozilla") {
		t.Errorf("confirm page names the browser %q, want the label only", got)
	}
	// The link's via=link: the browser asking is on this phone, so the
	// simulator says what the mini-program says there (its scanLink
	// strings), not "on a computer".
	if got := wx.str(`new URLSearchParams(location.search).get('via')`); got != "link" {
		t.Fatalf("simulator opened without via=link: %q", got)
	}
	// Chinese brackets around Chinese: 16:58:38（刚刚）.
	if got := wx.str(`document.getElementById('req-time').textContent`); !strings.Contains(got, "（刚刚）") {
		t.Errorf("request time %q, want the Chinese （刚刚）", got)
	}
	for _, id := range []string{"confirm-title", "warning-text"} {
		if got := wx.str(`document.getElementById('` + id + `').textContent`); strings.Contains(got, "电脑") || !strings.Contains(got, "浏览器") {
			t.Errorf("opened by the URL Link, #%s says %q; want this phone's browser, not a computer", id, got)
		}
	}
	wx.shot("phone-2-simulator-confirm-zh")
	wx.do(chromedp.Click(chromedp.ID("confirm")))
	wx.wait("confirmed", `document.body.dataset.result === 'confirmed'`, 10*time.Second)
	if got := wx.str(`document.getElementById('result-title').textContent + document.getElementById('result-text').textContent`); strings.Contains(got, "电脑") {
		t.Errorf("opened by the URL Link, the result says %q; the browser is on this phone", got)
	}

	// Back in the browser: the same long poll finishes the login.
	b.wait("signed in", `document.body.dataset.view === 'user'`, 15*time.Second)
	b.shot("phone-3-signed-in-zh")
	if n := inst.Fake.Calls(wxfake.APIURLLink); n != 1 {
		t.Errorf("%d generate_urllink calls, want 1", n)
	}
}

// TestInsideWeChat: WeChat's own browser gets the button too (a URL Link
// opens the mini-program directly there) and says the code can be pressed.
func TestInsideWeChat(t *testing.T) {
	srv := startServer(t, serverOptions{})
	for _, ua := range []string{uaWeChatIOS, uaWeChatAndroid} {
		b := newBrowserLang(t, "zh-CN")
		b.emulatePhone(ua, "zh-CN")
		b.navigate(srv.URL + "/")
		b.widgetState("#scanlogin", "pending", 15*time.Second)
		if got := b.shadowText("#scanlogin", "[data-action=open-in-wechat]"); got != "在微信中打开" {
			t.Errorf("%.40s: button %q", ua, got)
		}
		if got := b.shadowText("#scanlogin", ".hint"); !strings.Contains(got, "长按二维码") {
			t.Errorf("%.40s: hint %q", ua, got)
		}
	}
	// A desktop browser gets no button.
	d := newBrowser(t)
	d.navigate(srv.URL + "/")
	d.widgetState("#scanlogin", "pending", 15*time.Second)
	if d.str(`String(document.querySelector('#scanlogin').shadowRoot.querySelector('[data-action=open-in-wechat]').hidden)`) != "true" {
		t.Error("desktop shows the open-in-WeChat button")
	}
}

// TestLinkModeEndToEnd: SCANLOGIN_QR_MODE=link. The page's code decodes to
// prefix + scene; the mini-program's confirm page (Node, the real page),
// given that as q with scancode_time, scans and confirms; the browser signs
// in; WeChat was never asked for a code. The landing page is served at the
// code's URL.
func TestLinkModeEndToEnd(t *testing.T) {
	chromium(t)
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node not found and CI is set")
		}
		t.Skip("node not found: the mini-program's page runs in Node")
	}
	const prefix = "https://login.example.com/s/"
	inst := servertest.Start(t, servertest.Options{Config: &app.Config{QRMode: "link", QRLinkPrefix: prefix}})
	b := newBrowserLang(t, "zh-CN")
	b.navigate(inst.URL + "/")
	scene := b.widgetState("#scanlogin", "pending", 15*time.Second)
	src := b.str(`document.querySelector('#scanlogin').shadowRoot.querySelector('.qr').src`)
	resp, err := http.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	png, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	content := servertest.DecodeQR(t, png)
	if content != prefix+scene {
		t.Fatalf("the code says %q, want %q", content, prefix+scene)
	}
	b.shot("linkmode-1-page-zh")

	cmd := exec.Command(node, "test/scan-link.js", inst.URL, content, strconv.FormatInt(time.Now().Unix(), 10))
	cmd.Dir = filepath.Join("..", "miniprogram")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"confirmed":"confirmed"`) {
		t.Fatalf("mini-program scan page: %v\n%s", err, out)
	}
	b.wait("signed in", `document.body.dataset.view === 'user'`, 15*time.Second)
	if n := inst.Fake.Calls(wxfake.APIQRCode); n != 0 {
		t.Errorf("%d getwxacodeunlimit calls in link mode, want 0", n)
	}

	// A fresh code's URL opened by a phone camera: the landing page, with
	// the code and the way into WeChat.
	fresh := createScene(t, inst.URL)
	land := newBrowserLang(t, "zh-CN")
	land.emulatePhone(uaIPhoneSafari, "zh-CN")
	land.navigate(inst.URL + "/s/" + fresh)
	land.wait("landing", `document.body.dataset.scene === '`+fresh+`' && document.body.dataset.qr === 'shown' && !document.getElementById('landing-open').hidden`, 10*time.Second)
	if got := land.str(`document.getElementById('landing-open').textContent`); got != "在微信中打开" {
		t.Errorf("landing button %q", got)
	}
	if got := land.str(`document.getElementById('landing-lead').textContent`); !strings.Contains(got, "扫一扫") {
		t.Errorf("landing lead %q", got)
	}
	land.shot("linkmode-2-landing-zh")
}

// TestLanguages: zh-* browsers get Chinese, others English, on the page,
// the widget and the simulator; ?lang= forces one and is remembered;
// ?ui_locales= (an OIDC request's) is honoured.
func TestLanguages(t *testing.T) {
	srv := startServer(t, serverOptions{})
	for _, tc := range []struct{ browser, lang, title, widget, sim string }{
		{"zh-CN", "zh-CN", "登录", "使用微信扫码登录", "谁在扫码？"},
		{"en-US", "en", "Sign in", "Scan with WeChat to sign in", "Who is scanning?"},
	} {
		b := newBrowserLang(t, tc.browser)
		b.navigate(srv.URL + "/")
		scene := b.widgetState("#scanlogin", "pending", 15*time.Second)
		if got := b.str(`document.documentElement.lang + '|' + document.getElementById('login-title').textContent`); got != tc.lang+"|"+tc.title {
			t.Errorf("%s: page %q", tc.browser, got)
		}
		if got := b.shadowText("#scanlogin", ".title"); got != tc.widget {
			t.Errorf("%s: widget title %q", tc.browser, got)
		}
		b.shot("lang-page-" + tc.browser)
		b.navigate(srv.URL + "/dev/phone?scene=" + scene)
		b.wait("simulator", `document.body.dataset.step === 'user'`, 10*time.Second)
		if got := b.str(`document.getElementById('user-title').textContent`); got != tc.sim {
			t.Errorf("%s: simulator %q", tc.browser, got)
		}
	}

	// Forced and remembered.
	b := newBrowserLang(t, "zh-CN")
	b.navigate(srv.URL + "/?lang=en")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	if got := b.shadowText("#scanlogin", ".title"); got != "Scan with WeChat to sign in" {
		t.Errorf("?lang=en on a Chinese browser: widget %q", got)
	}
	b.navigate(srv.URL + "/")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	if got := b.str(`document.documentElement.lang`); got != "en" {
		t.Errorf("the chosen language was not remembered: %q", got)
	}
	e := newBrowserLang(t, "en-US")
	e.navigate(srv.URL + "/?ui_locales=zh-CN%20en")
	e.widgetState("#scanlogin", "pending", 15*time.Second)
	if got := e.shadowText("#scanlogin", ".title"); got != "使用微信扫码登录" {
		t.Errorf("ui_locales=zh-CN: widget %q", got)
	}
	// The language links change the language only: an OpenID sign-in's
	// request stays, or the browser would never return to its application.
	// Their menu is named in the page's language.
	e.navigate(srv.URL + "/?oidc=abc123&ui_locales=en")
	e.wait("the language links", `document.querySelector('.langs a[data-lang=zh]').getAttribute('href').includes('lang=zh')`, 10*time.Second)
	if got := e.str(`document.querySelector('.langs a[data-lang=zh]').getAttribute('href')`); got != "?oidc=abc123&lang=zh" {
		t.Errorf("the 中文 link of an OpenID sign-in: %q, want ?oidc=abc123&lang=zh", got)
	}
	e.navigate(srv.URL + "/?lang=zh")
	e.widgetState("#scanlogin", "pending", 15*time.Second)
	if got := e.str(`document.querySelector('.langs').getAttribute('aria-label')`); got != "语言" {
		t.Errorf("the Chinese page names its language menu %q", got)
	}
	// The widget's own rule, and its lang option, on a page of an integrator.
	got := e.str(`(async () => {
	  const out = [];
	  for (const opts of [{}, {lang: 'zh'}, {locale: 'zh-TW'}, {lang: 'en'}]) {
	    const el = document.createElement('div');
	    document.body.append(el);
	    const w = ScanLogin.mount(el, opts);
	    out.push(el.shadowRoot.querySelector('.title').textContent);
	    w.destroy();
	    el.remove();
	  }
	  return out.join('|');
	})()`)
	if got != "Scan with WeChat to sign in|使用微信扫码登录|使用微信扫码登录|Scan with WeChat to sign in" {
		t.Errorf("widget languages: %q", got)
	}
}

// TestTranslationsComplete fails on a missing translation: every table has
// the same keys (and nested keys) in Chinese and English, the widget's too.
func TestTranslationsComplete(t *testing.T) {
	got := inTables(t, `
	  const keys = (o, p = '') => Object.keys(o).flatMap(k => o[k] && typeof o[k] === 'object' ? keys(o[k], p + k + '.') : [p + k]).sort();
	  const diff = (name, a, b) => {
	    const ka = keys(a), kb = keys(b);
	    return [...ka.filter(k => !kb.includes(k)).map(k => name + ': en has ' + k + ', zh does not'),
	            ...kb.filter(k => !ka.includes(k)).map(k => name + ': zh has ' + k + ', en does not')];
	  };
	  const out = Object.entries(TEXT).flatMap(([name, t]) => diff(name, t.en, t.zh));
	  out.push(...diff('widget', ScanLogin.strings.en, ScanLogin.strings.zh));
	  // The same kind (string or function of as many values) in both, and
	  // no English left in the Chinese but names (as the mini-program's
	  // test/static.test.js has it).
	  const names = /\b(IP|ID|OpenID Connect|OpenID|JavaScript|scanlogin|scene|WeChat)\b/g;
	  const walk = (name, en, zh) => Object.keys(zh).flatMap(k => {
	    const a = en[k], b = zh[k], at = name + '.' + k;
	    if (b && typeof b === 'object') return walk(at, a || {}, b);
	    if (typeof a !== typeof b || (typeof b === 'function' && a.length !== b.length)) return [at + ': en and zh differ in kind'];
	    const text = typeof b === 'function' ? b(...Array(b.length).fill('')) : b;
	    return /[A-Za-z]{2,}/.test(String(text).replace(names, '')) ? [at + ': English in zh: ' + text] : [];
	  });
	  out.push(...Object.entries(TEXT).flatMap(([name, t]) => walk(name, t.en, t.zh)));
	  out.push(...walk('widget', ScanLogin.strings.en, ScanLogin.strings.zh));
	  if (Object.keys(TEXT).length < 4) out.push('tables missing: ' + Object.keys(TEXT));
	  return out.join('\n');
	`)
	if got != "" {
		t.Errorf("missing translations:\n%s", got)
	}
}

// inTables runs an async function body in the login page, with TEXT (the
// pages' tables) and ScanLogin.strings (the widget's) at hand.
func inTables(t *testing.T, body string) string {
	t.Helper()
	srv := startServer(t, serverOptions{})
	b := newBrowser(t)
	b.navigate(srv.URL + "/")
	b.wait("widget script", `!!window.ScanLogin`, 10*time.Second)
	return b.str(`(async () => { const { TEXT } = await import('/static/locales.js');` + body + `})()`)
}

// TestChineseNamesJoined: a name in a Chinese sentence (a site, an
// application, a WeChat nickname) sits without spaces beside Chinese when it
// is Chinese itself ("张三已扫码"), and with a space when it is Latin
// ("Alice 已扫码"), in every table of the pages and the widget.
func TestChineseNamesJoined(t *testing.T) {
	got := inTables(t, `
	  const w = ScanLogin.strings.zh, p = TEXT.phone.zh;
	  // The sentences that take a name (the widget's scannedPick also a number).
	  const sentences = {
	    'page.signInTo': (n) => TEXT.page.zh.signInTo(n), 'page.avatarAlt': (n) => TEXT.page.zh.avatarAlt(n),
	    'phone.confirmTitle': p.confirmTitle, 'phone.warning': p.warning,
	    'phone.link.confirmTitle': p.link.confirmTitle, 'phone.link.warning': p.link.warning,
	    'widget.scannedStatus': w.scannedStatus, 'widget.scannedPick': (n) => w.scannedPick(n, 42), 'widget.avatarAlt': w.avatarAlt,
	  };
	  const bad = {
	    // No space beside a Chinese name where Chinese (or its punctuation) meets it.
	    '京东商城': /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef] 京东商城|京东商城 [\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/,
	    // A space between a Latin name and a Chinese character.
	    'Acme': /[\u3400-\u9fff]Acme|Acme[\u3400-\u9fff]/,
	  };
	  const out = [];
	  for (const [at, f] of Object.entries(sentences)) {
	    for (const [name, re] of Object.entries(bad)) {
	      const text = String(f(name));
	      if (!text.includes(name) || re.test(text)) out.push(at + '(' + name + '): ' + text);
	    }
	  }
	  return out.join('\n');
	`)
	if got != "" {
		t.Errorf("names spaced wrongly in Chinese:\n%s", got)
	}
}

// TestRefusedOrigin: a site missing from SCANLOGIN_ALLOWED_ORIGINS gets a
// widget that says it is a configuration error (onError code cors_refused)
// instead of retrying "connection problem" forever, and the server logs the
// refused origin once, naming the variable.
func TestRefusedOrigin(t *testing.T) {
	chromium(t)
	var api string
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Shop</title></head>
<body><div id="login"></div><script src="%[1]s/scanlogin.js"></script>
<script>window.__errors = []; ScanLogin.mount(document.getElementById('login'), {onError: (e) => window.__errors.push(e.code + ' ' + e.message)});</script></body></html>`, api)
	}))
	t.Cleanup(shop.Close)
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	api = inst.URL
	b := newBrowserLang(t, "zh-CN")
	b.navigate(shop.URL + "/")
	b.wait("onError", `window.__errors.length > 0`, 15*time.Second)
	if got := b.str(`window.__errors[0]`); !strings.HasPrefix(got, "cors_refused configuration error") || !strings.Contains(got, "SCANLOGIN_ALLOWED_ORIGINS") {
		t.Errorf("onError got %q", got)
	}
	if got := b.shadowText("#login", ".overlay"); !strings.Contains(got, "配置有误") {
		t.Errorf("the widget says %q, want a configuration error", got)
	}
	b.shot("refused-origin-zh")
	// A second visit: still one log line for the origin.
	b.navigate(shop.URL + "/")
	b.wait("onError again", `window.__errors.length > 0`, 15*time.Second)
	n := 0
	for _, l := range logs.JSONLines() {
		if l["origin"] == shop.URL && strings.Contains(fmt.Sprint(l["msg"]), "SCANLOGIN_ALLOWED_ORIGINS") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d log lines about the refused origin, want 1:\n%s", n, logs.String())
	}
}
