package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestDemoRelyingParty follows the demo's OpenID Connect round trip in
// Chromium: the start page links to the demo application at /dev/rp/,
// which signs in through the provider (the scan page), shows the ID
// token's claims, and signs out through RP-initiated logout.
func TestDemoRelyingParty(t *testing.T) {
	chromium(t)
	inst := servertest.Start(t, servertest.Options{})
	b := newBrowser(t)
	b.navigate(inst.URL + "/")
	b.wait("demo link", `!document.getElementById('rp-link').hidden`, 10*time.Second)
	b.do(chromedp.Click(chromedp.CSS(`#rp-link a`)))
	waitAcross(t, b, `location.pathname === '/dev/rp/' && !!document.getElementById('signin')`, 10*time.Second)
	b.do(chromedp.Click(chromedp.ID("signin")))
	waitAcross(t, b, `new URLSearchParams(location.search).has('oidc')`, 10*time.Second)
	b.wait("client name", `document.getElementById('login-title').textContent.includes('demo app')`, 10*time.Second)
	scene := b.widgetState("#scanlogin", "pending", 15*time.Second)
	p := newPhone(t, inst.URL, "oDemoRP00000000000000000001", "演示用户")
	p.scan(scene)
	p.confirm(scene)
	waitAcross(t, b, `document.getElementById('rp') && document.getElementById('rp').dataset.signedIn === 'true'`, 20*time.Second)
	if sub := b.str(`document.querySelector('[data-claim=sub]').textContent`); sub != p.userID {
		t.Fatalf("sub claim %q, want %q", sub, p.userID)
	}
	if name := b.str(`document.querySelector('[data-claim=name]').textContent`); name != "演示用户" {
		t.Fatalf("name claim %q", name)
	}
	b.shot("demo-rp-claims")
	b.do(chromedp.Click(chromedp.ID("signout")))
	waitAcross(t, b, `!!document.getElementById('signed-out')`, 10*time.Second)
	// Signed out at the provider too: the login page asks for a scan.
	b.navigate(inst.URL + "/")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
}

// waitAcross polls a JavaScript expression across navigations.
func waitAcross(t *testing.T, b *tab, expr string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); ; {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(end) {
			b.shot("failed-" + b.name)
			url, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href`))
			t.Fatalf("waiting for %s at %s: %v", expr, url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
