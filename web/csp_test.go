//go:build !webfake

package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// cspRecorder is installed in every document of a tab before its scripts
// run: it keeps each securitypolicyviolation event the page reports.
const cspRecorder = `
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__csp.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' at ' + e.sourceFile + ':' + e.lineNumber);
}, true);
`

func (b *tab) recordCSP() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		b.t.Fatalf("%s: install the CSP recorder: %v", b.name, err)
	}
}

// cspViolations are the violations the tab's current page reported.
func (b *tab) cspViolations() []string {
	b.t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(b.str(`JSON.stringify(window.__csp || ['recorder missing'])`)), &out); err != nil {
		b.t.Fatal(err)
	}
	return out
}

func (b *tab) noCSPViolations() {
	b.t.Helper()
	for _, v := range b.cspViolations() {
		b.t.Errorf("%s: Content-Security-Policy violation: %s", b.name, v)
	}
}

// TestPagesUnderCSP: the login page and the phone simulator send a strict
// Content-Security-Policy (server/csp.go), it is enforced (an inline script
// does not run), and both still complete a login in Chromium without a
// single violation: with an uploaded avatar shown on the page, and with
// the simulator playing the phone.
func TestPagesUnderCSP(t *testing.T) {
	srv := startServer(t, serverOptions{})
	for _, path := range []string{"/", "/dev/phone?scene=0123456789abcdef0123456789abcdef", "/static/index.html", "/static/phone.html"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "img-src 'self' data:", "https://thirdwx.qlogo.cn"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: Content-Security-Policy %q allows inline script or eval", path, csp)
		}
	}

	// The page, with the phone played over HTTP and an avatar to show.
	b := newBrowser(t)
	b.recordCSP()
	b.navigate(srv.URL + "/")
	scene := b.widgetState("#scanlogin", "pending", 15*time.Second)
	b.wait("QR image loaded", widget+`.shadowRoot.querySelector('img.qr').naturalWidth > 0`, 10*time.Second)
	ann := newPhone(t, srv.URL, "csp-ann", "Ann")
	ann.avatar()
	ann.scan(scene)
	b.widgetState("#scanlogin", "scanned", 10*time.Second)
	b.wait("the scanner's avatar", widget+`.shadowRoot.querySelector('img.avatar') && `+widget+`.shadowRoot.querySelector('img.avatar').naturalWidth > 0`, 5*time.Second)
	ann.confirm(scene)
	b.wait("signed-in view", `document.body.dataset.view === 'user' && document.querySelector('#user-name').textContent === 'Ann'`, 10*time.Second)
	b.wait("the user's avatar", `(i => i && i.naturalWidth > 0)(document.querySelector('#user-picture img'))`, 5*time.Second)
	if got := b.str(`getComputedStyle(document.body).display`); got == "" {
		t.Error("no computed style: the stylesheet did not load")
	}
	b.noCSPViolations()
	b.shot("csp-1-signed-in")

	// The policy is in force: an inline script is refused, and the refusal
	// is reported (so an empty report above means something). eval is not
	// tried here: DevTools' Runtime.evaluate lifts the eval ban for what it
	// runs.
	got := b.str(`(() => {
	  const s = document.createElement('script');
	  s.textContent = 'window.__inlineRan = true';
	  document.head.append(s);
	  return new Promise(r => setTimeout(() => r(String(!!window.__inlineRan) + ' ' + window.__csp.join(' | ')), 200));
	})()`)
	if !strings.HasPrefix(got, "false script-src-elem blocked inline") {
		t.Errorf("inline script ran or was not reported: %s", got)
	}

	// The simulator plays the phone for a second browser.
	desk := newBrowser(t)
	desk.recordCSP()
	desk.navigate(srv.URL + "/")
	scene = desk.widgetState("#scanlogin", "pending", 15*time.Second)
	ph := desk.newTab("phone")
	ph.recordCSP()
	ph.do(chromedp.Emulate(device.IPhone13))
	ph.navigate(srv.URL + "/dev/phone?scene=" + scene)
	ph.wait("user step", `document.body.dataset.step === 'user'`, 10*time.Second)
	ph.do(chromedp.Click(chromedp.CSS(`#user-list label`)), chromedp.Click(chromedp.ID("scan-button")))
	ph.wait("confirm step", `document.body.dataset.step === 'confirm'`, 10*time.Second)
	desk.widgetState("#scanlogin", "scanned", 10*time.Second)
	ph.do(chromedp.Click(chromedp.ID("confirm")))
	ph.wait("result", `document.body.dataset.result === 'confirmed'`, 10*time.Second)
	desk.wait("signed-in view", `document.body.dataset.view === 'user' && document.querySelector('#user-name').textContent === 'Alice'`, 10*time.Second)
	ph.shot("csp-2-phone-done")
	ph.noCSPViolations()
	desk.noCSPViolations()
}
