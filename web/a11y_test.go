package web_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// contrastJS is the WCAG contrast ratio of an element's text against the
// first opaque background behind it (through shadow roots), from the
// computed colours.
const contrastJS = `((el) => {
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = [255, 255, 255];
  for (let n = el; n; n = n.parentElement || (n.getRootNode() && n.getRootNode().host)) {
    const v = rgb(getComputedStyle(n).backgroundColor);
    if (v.length === 3 || (v.length === 4 && v[3] === 1)) { bg = v; break; }
  }
  const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg);
  return String((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05));
})`

func (b *tab) contrast(elExpr string) float64 {
	b.t.Helper()
	v, err := strconv.ParseFloat(b.str(contrastJS+"("+elExpr+")"), 64)
	if err != nil {
		b.t.Fatalf("%s: contrast of %s: %v", b.name, elExpr, err)
	}
	return v
}

// TestOpenInWeChatContrast: the phone path's "Open in WeChat" button, in
// the widget and on link mode's landing page, has text of at least WCAG
// AA's 4.5:1 (it is normal-size text).
func TestOpenInWeChatContrast(t *testing.T) {
	chromium(t)
	inst := servertest.Start(t, servertest.Options{Config: &app.Config{QRMode: "link", QRLinkPrefix: "https://login.example.com/s/"}})
	b := newBrowserLang(t, "zh-CN")
	b.emulatePhone(uaIPhoneSafari, "zh-CN")
	b.navigate(inst.URL + "/")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	open := widget + `.shadowRoot.querySelector('[data-action=open-in-wechat]')`
	b.wait("open in WeChat", open+` && !`+open+`.hidden`, 5*time.Second)
	if c := b.contrast(open); c < 4.5 {
		t.Errorf("widget's Open in WeChat text contrast %.2f:1, want at least 4.5:1", c)
	}

	b.navigate(inst.URL + "/s/" + createScene(t, inst.URL))
	b.wait("landing", `!document.getElementById('landing-open').hidden`, 10*time.Second)
	if c := b.contrast(`document.getElementById('landing-open')`); c < 4.5 {
		t.Errorf("landing page's Open in WeChat text contrast %.2f:1, want at least 4.5:1", c)
	}
}

// TestScannedAnnouncesMatchCode: with number matching, a screen reader
// hears which number to choose on the phone, as the overlay shows it, not
// only "confirm on your phone".
func TestScannedAnnouncesMatchCode(t *testing.T) {
	srv, b, scene, match := matchPage(t)
	if match == "" {
		t.Fatal("number matching is on but no match code is shown")
	}
	newPhone(t, srv.URL, "e2e-ann", "Ann").scan(scene)
	b.widgetState("#scanlogin", "scanned", 10*time.Second)
	if got := b.shadowText("#scanlogin", ".overlay"); !strings.Contains(got, match) {
		t.Fatalf("scanned overlay says %q, want the match code %s", got, match)
	}
	if got := b.shadowText("#scanlogin", ".status"); !strings.Contains(got, "Ann") || !strings.Contains(got, match) {
		t.Errorf("scanned status announces %q, want the scanner Ann and the number %s to choose", got, match)
	}
}

// TestRenewalsAnnounced: every automatic renewal of an idle code is
// announced, not only the first (the live region's text must change).
func TestRenewalsAnnounced(t *testing.T) {
	const ttl = 3 * time.Second
	srv := startServer(t, serverOptions{SceneTTL: ttl})
	b := newBrowser(t)
	b.navigate(srv.URL + "/")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	b.str(`(() => {
	  const st = ` + widget + `.shadowRoot.querySelector('[role=status]');
	  window.__said = [];
	  new MutationObserver(() => window.__said.push(st.textContent)).observe(st, {childList: true, characterData: true, subtree: true});
	  return '';
	})()`)
	b.widgetState("#scanlogin", "expired", 6*ttl)
	said := b.str(`JSON.stringify(window.__said)`)
	renewed := strings.Count(said, `"The code expired. Here is a new one."`)
	if renewed != 3 {
		t.Errorf("the 3 automatic renewals were announced %d times; the status region said %s", renewed, said)
	}
}

// TestReducedMotion: with prefers-reduced-motion the dimming of the code
// (an expired or stale code) is not animated, as the widget's style means.
func TestReducedMotion(t *testing.T) {
	srv := startServer(t, serverOptions{})
	b := newBrowser(t)
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
	}); err != nil {
		t.Fatal(err)
	}
	b.navigate(srv.URL + "/")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	got := b.str(`(() => {
	  const r = ` + widget + `.shadowRoot;
	  r.querySelector('.frame').dataset.dim = '';
	  return getComputedStyle(r.querySelector('.qr')).transitionDuration;
	})()`)
	if strings.Trim(strings.ReplaceAll(got, "0s", ""), ", ") != "" {
		t.Errorf("dimming the code is animated (transition-duration %s) although the reader prefers reduced motion", got)
	}
}

// TestSecondaryButtonContrast: the phone simulator's secondary button
// (Cancel login) has text of at least WCAG AA's 4.5:1, at rest and hovered.
func TestSecondaryButtonContrast(t *testing.T) {
	srv := startServer(t, serverOptions{})
	b := newBrowser(t)
	b.navigate(srv.URL + "/dev/phone")
	b.wait("simulator", `document.body.dataset.step !== 'loading'`, 10*time.Second)
	if c := b.contrast(`document.getElementById('decline')`); c < 4.5 {
		t.Errorf("Cancel login text contrast %.2f:1, want at least 4.5:1", c)
	}
	// Hovered: the colours of the :hover rule on a copy of the button.
	hover := b.str(`(() => {
	  const d = document.getElementById('decline'), s = getComputedStyle(document.documentElement);
	  const c = d.cloneNode(true);
	  c.id = 'decline-hover';
	  c.style.background = s.getPropertyValue('--secondary-hover');
	  document.body.append(c);
	  return String(` + contrastJS + `(c));
	})()`)
	if c, _ := strconv.ParseFloat(hover, 64); c < 4.5 {
		t.Errorf("hovered Cancel login text contrast %s:1, want at least 4.5:1", hover)
	}
}

// axNames lists the roles and names of the page's accessibility tree
// (Chromium's, through the widget's shadow root) that are not ignored.
func (b *tab) axNames() []string {
	b.t.Helper()
	tree, err := chromedp.Call(b.ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		b.t.Fatal(err)
	}
	var out []string
	for _, n := range tree.Nodes {
		if n.Ignored || n.Role == nil || n.Name == nil {
			continue
		}
		var role, name string
		_ = json.Unmarshal(n.Role.Value, &role)
		_ = json.Unmarshal(n.Name.Value, &name)
		out = append(out, role+": "+name)
	}
	return out
}

// TestSpentCodeNotOffered: a screen reader is offered the code image
// ("Scan it with WeChat") while it can be scanned, not once it is spent
// (cancelled here) and shows only dimmed behind the overlay.
func TestSpentCodeNotOffered(t *testing.T) {
	srv, b, scene := codeShown(t)
	const code = "image: Mini-program login code. Scan it with WeChat."
	if got := b.axNames(); !slices.Contains(got, code) {
		t.Fatalf("pending: the accessibility tree has no %q: %q", code, got)
	}
	bob := newPhone(t, srv.URL, "e2e-bob", "Bob")
	bob.scan(scene)
	b.widgetState("#scanlogin", "scanned", 10*time.Second)
	bob.cancel(scene)
	b.widgetState("#scanlogin", "cancelled", 10*time.Second)
	if got := b.axNames(); slices.Contains(got, code) {
		t.Errorf("cancelled: the spent code is still offered as %q: %q", code, got)
	}
	b.do(chromedp.Click(chromedp.JSPath(widget + `.shadowRoot.querySelector('button[data-action=refresh]')`)))
	b.wait("a new code", widget+`.dataset.state === 'pending' && `+widget+fmt.Sprintf(`.dataset.scene !== %q`, scene), 10*time.Second)
	if got := b.axNames(); !slices.Contains(got, code) {
		t.Errorf("new code: the accessibility tree has no %q: %q", code, got)
	}
}
