package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// The browser tests drive real headless Chromium against the real server
// (server/servertest: dev mode, real Redis, fake WeChat). The phone side is
// played over HTTP exactly as the mini-program would, or by the phone
// simulator page in a second tab.

const widget = `document.querySelector('#scanlogin')`

var sceneRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// shots is the folder for the screenshots of every state, shared by all
// tests of the run so a reviewer finds them in one place.
var shots struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shots.dir != "" {
		fmt.Fprintf(os.Stderr, "web: screenshots of the browser tests are in %s\n", shots.dir)
	}
	os.Exit(code)
}

func screenshotDir(t *testing.T) string {
	t.Helper()
	shots.once.Do(func() {
		if d := os.Getenv("SCANLOGIN_SCREENSHOTS"); d != "" {
			shots.dir, shots.err = d, os.MkdirAll(d, 0o755)
			return
		}
		shots.dir, shots.err = os.MkdirTemp("", "scanlogin-web-screenshots-")
	})
	if shots.err != nil {
		t.Fatalf("screenshot folder: %v", shots.err)
	}
	return shots.dir
}

// chromium finds the browser; without one the test skips, unless CI is set.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found and CI is set: install Debian's chromium package (.ci/run does)")
	}
	t.Skip("chromium not found: install it or set CHROMIUM to run the browser tests")
	return ""
}

// tab is one browser tab with the uncaught exceptions of its pages.
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string

	mu         sync.Mutex
	exceptions []string
}

// newBrowser starts a fresh headless Chromium (its own profile) and returns
// its first tab. Everything ends with the test.
func newBrowser(t *testing.T) *tab {
	t.Helper()
	return newBrowserLang(t, "en-US")
}

// newBrowserLang is newBrowser with the browser's language set (its
// navigator.languages and Accept-Language).
func newBrowserLang(t *testing.T, lang string) *tab {
	t.Helper()
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang), // navigator.languages in headless mode
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	bctx, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return watch(t, bctx, "tab1")
}

// newTab opens another tab in the same browser.
func (b *tab) newTab(name string) *tab {
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open %s: %v", name, err)
	}
	return watch(b.t, ctx, name)
}

// watch logs the console of a tab and fails the test on any uncaught
// exception or unhandled rejection in its pages.
func watch(t *testing.T, ctx context.Context, name string) *tab {
	tb := &tab{t: t, ctx: ctx, name: name}
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if os.Getenv("WEB_CONSOLE") != "" {
				fmt.Fprintf(os.Stderr, "console %s %s: %s\n", name, m.Type, m)
			}
			tb.mu.Lock()
			if m.IsException() {
				tb.exceptions = append(tb.exceptions, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m))
			}
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, e := range tb.exceptions {
			t.Errorf("%s: uncaught JavaScript exception: %s", name, e)
		}
	})
	return tb
}

func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.shot("failed-" + b.name)
		b.t.Fatalf("%s: %v", b.name, err)
	}
}

func (b *tab) navigate(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url))
}

// wait polls a JavaScript expression until it is truthy.
func (b *tab) wait(what, expr string, timeout time.Duration) {
	b.t.Helper()
	// An exception is "not yet", as in Firefox's waitFor: between two
	// documents of a redirect the element may not exist, and chromedp's Poll
	// would end on the first exception instead of waiting.
	cond := `(() => { try { return !!(` + expr + `); } catch (e) { return false; } })()`
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		b.shot("failed-" + b.name)
		state, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](
			`JSON.stringify({url: location.href, view: document.body.dataset.view, step: document.body.dataset.step,
			  widget: (document.querySelector('[data-state]') || {dataset: {}}).dataset,
			  status: [...document.querySelectorAll('[data-state]')].map(e => e.shadowRoot && e.shadowRoot.querySelector('.status').textContent)})`))
		b.t.Fatalf("%s: waiting for %s: %v (page: %s)", b.name, what, err, state)
	}
}

func (b *tab) str(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

func (b *tab) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(screenshotDir(b.t), name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.t.Logf("screenshot %s", p)
}

// widgetState waits until the widget in sel shows state and returns its scene.
func (b *tab) widgetState(sel, state string, timeout time.Duration) string {
	b.t.Helper()
	b.wait("widget "+state, fmt.Sprintf(`(document.querySelector(%q) || {dataset: {}}).dataset.state === %q`, sel, state), timeout)
	scene := b.str(fmt.Sprintf(`document.querySelector(%q).dataset.scene || ''`, sel))
	if state != "loading" && !sceneRE.MatchString(scene) {
		b.t.Fatalf("%s: widget in state %s has data-scene %q, want 32 hex characters", b.name, state, scene)
	}
	return scene
}

// shadowText is the text of the first match of css inside the widget.
func (b *tab) shadowText(sel, css string) string {
	return b.str(fmt.Sprintf(`(document.querySelector(%q).shadowRoot.querySelector(%q) || {}).textContent || ''`, sel, css))
}

// phone plays the mini-program over HTTP: a WeChat user logged in with an
// mp token, scanning and confirming scenes.
type phone struct {
	t        *testing.T
	base     string
	token    string
	userID   string
	nickname string
}

func newPhone(t *testing.T, base, openID, nickname string) *phone {
	t.Helper()
	p := &phone{t: t, base: base, nickname: nickname}
	var minted struct{ Code string }
	p.call("POST", "/dev/wechat/login", map[string]string{"openid": openID, "nickname": nickname}, http.StatusOK, &minted)
	var login struct {
		Token string
		User  struct{ ID, Nickname string }
	}
	p.call("POST", "/api/v1/mp/login", map[string]string{"code": minted.Code}, http.StatusOK, &login)
	p.token, p.userID = login.Token, login.User.ID
	if login.User.Nickname != nickname {
		p.call("PATCH", "/api/v1/mp/me", map[string]string{"nickname": nickname}, http.StatusOK, nil)
	}
	if p.token == "" || p.userID == "" {
		t.Fatalf("mp login gave token %t, user %q", p.token != "", p.userID)
	}
	return p
}

func (p *phone) call(method, path string, body any, want int, out any) {
	p.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			p.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(p.t.Context(), method, p.base+path, r)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		p.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// avatar uploads a small generated PNG and saves it as the user's profile
// picture.
func (p *phone) avatar() {
	p.t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 96))
	for y := range 96 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{R: uint8(40 + x), G: uint8(120 + y/2), B: 200, A: 255})
		}
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "me.png")
	if err != nil {
		p.t.Fatal(err)
	}
	if err := png.Encode(fw, img); err != nil {
		p.t.Fatal(err)
	}
	mw.Close()
	req, err := http.NewRequestWithContext(p.t.Context(), http.MethodPost, p.base+"/api/v1/mp/me/avatar", &body)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+p.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("avatar upload: status %d: %s", res.StatusCode, data)
	}
	// An upload is the avatar once the profile is saved with it, as the
	// mini-program does.
	var up struct {
		AvatarURL string `json:"avatar_url"`
	}
	if err := json.Unmarshal(data, &up); err != nil || up.AvatarURL == "" {
		p.t.Fatalf("avatar upload answer %s: %v", data, err)
	}
	p.call("PUT", "/api/v1/mp/me", map[string]any{"avatar_url": up.AvatarURL}, http.StatusOK, nil)
}

func (p *phone) scan(scene string) {
	p.t.Helper()
	p.call("POST", "/api/v1/qr/"+scene+"/scan", map[string]any{}, http.StatusOK, nil)
}

func (p *phone) confirm(scene string) {
	p.t.Helper()
	p.call("POST", "/api/v1/qr/"+scene+"/confirm", map[string]any{}, http.StatusOK, nil)
}

func (p *phone) cancel(scene string) {
	p.t.Helper()
	p.call("POST", "/api/v1/qr/"+scene+"/cancel", map[string]any{}, http.StatusOK, nil)
}

// TestLoginPage: open /, scan and confirm as the phone, see the scanner,
// then the signed-in page; the session cookie survives a reload; sign out.
func TestLoginPage(t *testing.T) {
	srv, b, scene := codeShown(t)
	if alt := b.str(widget + `.shadowRoot.querySelector('img.qr').alt`); alt == "" {
		t.Error("the QR image has no alt text")
	}
	if live := b.str(widget + `.shadowRoot.querySelector('[aria-live]').getAttribute('aria-live')`); live != "polite" {
		t.Errorf("status aria-live = %q, want polite", live)
	}
	// The ES module entry is the same widget.
	if got := b.str(`import('/static/scanlogin.mjs').then(m => String(typeof m.mount === 'function' && m.default === m.ScanLogin))`); got != "true" {
		t.Errorf("scanlogin.mjs does not export mount and a default ScanLogin")
	}
	b.shot("login-1-pending")
	heightJS := `String(document.querySelector('#scanlogin').getBoundingClientRect().height)`
	height := b.str(heightJS)

	ann := newPhone(t, srv.URL, "e2e-ann", "Ann")
	ann.avatar()
	ann.scan(scene)
	b.widgetState("#scanlogin", "scanned", 10*time.Second)
	if got := b.shadowText("#scanlogin", "[data-role=nickname]"); got != "Ann" {
		t.Errorf("scanned overlay shows nickname %q, want Ann", got)
	}
	b.wait("the scanner's avatar", widget+`.shadowRoot.querySelector('img.avatar') && `+widget+`.shadowRoot.querySelector('img.avatar').naturalWidth > 0`, 5*time.Second)
	if alt := b.str(widget + `.shadowRoot.querySelector('img.avatar').alt`); !strings.Contains(alt, "Ann") {
		t.Errorf("avatar alt = %q, want it to name Ann", alt)
	}
	if got := b.shadowText("#scanlogin", ".status"); !strings.Contains(got, "Ann") || !strings.Contains(got, "Confirm on your phone") {
		t.Errorf("status after scan = %q, want the nickname and 'Confirm on your phone'", got)
	}
	if h := b.str(heightJS); h != height {
		t.Errorf("the widget changed height from %s to %s between pending and scanned", height, h)
	}
	b.shot("login-2-scanned")

	ann.confirm(scene)
	b.wait("signed-in view", `document.body.dataset.view === 'user' && document.querySelector('#user-name').textContent !== ''`, 10*time.Second)
	if got := b.str(`document.querySelector('#user-name').textContent`); got != "Ann" {
		t.Errorf("signed-in view shows %q, want Ann", got)
	}
	b.wait("the user's avatar", `(i => i && i.naturalWidth > 0)(document.querySelector('#user-picture img'))`, 5*time.Second)
	if got := b.str(`document.querySelector('#user-id').textContent`); got != ann.userID {
		t.Errorf("signed-in view shows user id %q, want %q", got, ann.userID)
	}
	if got := b.str(`document.activeElement ? document.activeElement.id : ''`); got != "user-title" {
		t.Errorf("focus after sign-in is on %q, want the heading user-title", got)
	}
	b.shot("login-3-signed-in")

	// The poll token never travels in a URL and nothing is stored.
	urls := b.str(`JSON.stringify(performance.getEntriesByType('resource').map(e => e.name))`)
	var seen []string
	if err := json.Unmarshal([]byte(urls), &seen); err != nil {
		t.Fatal(err)
	}
	polls := 0
	for _, u := range seen {
		if !strings.Contains(u, "/state") {
			continue
		}
		polls++
		q := u[strings.Index(u, "?")+1:]
		for _, kv := range strings.Split(q, "&") {
			if k, _, _ := strings.Cut(kv, "="); k != "since" && k != "wait" {
				t.Errorf("state poll URL carries %q: %s", k, u)
			}
		}
	}
	if polls == 0 {
		t.Errorf("no state polls seen among %d requests", len(seen))
	}
	if n := b.str(`String(localStorage.length + sessionStorage.length)`); n != "0" {
		t.Errorf("the login page stored %s items in web storage, want none", n)
	}

	// The session cookie: a reload shows the user without scanning.
	b.navigate(srv.URL + "/")
	b.wait("signed-in view after reload", `document.body.dataset.view === 'user' && document.querySelector('#user-name').textContent === 'Ann'`, 10*time.Second)

	b.do(chromedp.Click(chromedp.ID("logout")))
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	if got := b.str(`document.querySelector('#page-status').textContent`); got == "" {
		t.Error("no status announced after signing out")
	}
	b.shot("login-4-signed-out")
	status := b.str(`fetch('/api/v1/me', {credentials: 'same-origin'}).then(r => String(r.status))`)
	if status != "401" {
		t.Errorf("GET /api/v1/me after sign-out = %s, want 401", status)
	}

	// Chinese, at phone width.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.navigate(srv.URL + "/?lang=zh")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	if got := b.shadowText("#scanlogin", ".title"); got != "使用微信扫码登录" {
		t.Errorf("zh title = %q", got)
	}
	if w := b.str(`String(document.documentElement.scrollWidth <= window.innerWidth)`); w != "true" {
		t.Error("the login page scrolls sideways at 390px")
	}
	b.shot("login-5-zh-phone-width")

	// Dark colour scheme: the page follows it, the code stays on white.
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatal(err)
	}
	b.shot("login-6-zh-dark")
}

// TestExpiry: idle codes renew themselves a few times, then the overlay
// stays until a click, which gets a new code that works.
func TestExpiry(t *testing.T) {
	const ttl = 3 * time.Second
	srv := startServer(t, serverOptions{SceneTTL: ttl})
	ann := newPhone(t, srv.URL, "e2e-ann", "Ann") // before the clock matters
	b := newBrowser(t)
	b.navigate(srv.URL + "/")
	first := b.widgetState("#scanlogin", "pending", 15*time.Second)
	b.do(chromedp.Evaluate[chromedp.Void](`window.__scenes = new Set([` + fmt.Sprintf("%q", first) + `]);
		document.addEventListener('scanlogin:state', (e) => { if (e.detail.scene) window.__scenes.add(e.detail.scene); });`))

	b.widgetState("#scanlogin", "expired", 6*ttl)
	scenes := b.str(`String(window.__scenes.size)`)
	if scenes != "4" {
		t.Errorf("saw %s scenes before the overlay stayed, want 4 (the first and 3 automatic renewals)", scenes)
	}
	// The instructions say what happened; the overlay is the button.
	if got := b.shadowText("#scanlogin", ".title"); got != "The code expired" {
		t.Errorf("expired instructions say %q", got)
	}
	if got := b.shadowText("#scanlogin", "[data-action=refresh]"); !strings.Contains(got, "Click to refresh") {
		t.Errorf("expired overlay says %q", got)
	}
	b.shot("expiry-1-overlay")
	stale := b.str(widget + `.dataset.scene`)
	time.Sleep(ttl + time.Second)
	if st, sc := b.str(widget+`.dataset.state`), b.str(widget+`.dataset.scene`); st != "expired" || sc != stale {
		t.Fatalf("after the overlay the widget went on by itself: state %s, scene %s (was %s)", st, sc, stale)
	}

	b.do(chromedp.Click(chromedp.JSPath(widget + `.shadowRoot.querySelector('[data-action=refresh]')`)))
	b.wait("a new code", widget+`.dataset.state === 'pending' && `+widget+fmt.Sprintf(`.dataset.scene !== %q`, stale), 10*time.Second)
	scene := b.str(widget + `.dataset.scene`)
	b.shot("expiry-2-new-code")
	ann.scan(scene)
	ann.confirm(scene)
	b.wait("signed-in view", `document.body.dataset.view === 'user' && document.querySelector('#user-name').textContent === 'Ann'`, 10*time.Second)
}

// TestCancel: the phone cancels; the page says so and offers a new code.
func TestCancel(t *testing.T) {
	srv := startServer(t, serverOptions{})
	b := newBrowser(t)
	b.navigate(srv.URL + "/")
	scene := b.widgetState("#scanlogin", "pending", 15*time.Second)
	bob := newPhone(t, srv.URL, "e2e-bob", "Bob")
	bob.scan(scene)
	b.widgetState("#scanlogin", "scanned", 10*time.Second)
	bob.cancel(scene)
	b.widgetState("#scanlogin", "cancelled", 10*time.Second)
	// Said once: in the instructions (as WeChat's own page does) and to
	// screen readers, not again over the code.
	if got := b.shadowText("#scanlogin", ".title"); got != "You cancelled this login" {
		t.Errorf("cancelled instructions say %q", got)
	}
	if got := b.shadowText("#scanlogin", ".status"); !strings.Contains(got, "Login cancelled on the phone") {
		t.Errorf("cancelled status says %q", got)
	}
	if got := b.shadowText("#scanlogin", ".overlay"); got != "Get a new code" {
		t.Errorf("cancelled overlay says %q", got)
	}
	b.shot("cancel-1-cancelled")
	// By keyboard this time: the button takes focus and Enter.
	b.do(chromedp.Focus(chromedp.JSPath(widget+`.shadowRoot.querySelector('button[data-action=refresh]')`)), chromedp.KeyEvent("\r"))
	b.wait("a new code", widget+`.dataset.state === 'pending' && `+widget+fmt.Sprintf(`.dataset.scene !== %q`, scene), 10*time.Second)

	// Leaving the page cancels its open scene: a phone that scans it later
	// is told so instead of confirming a login nobody waits for.
	left := b.str(widget + `.dataset.scene`)
	b.navigate(srv.URL + "/")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	var answer struct{ Error struct{ Code string } }
	bob.call("POST", "/api/v1/qr/"+left+"/scan", map[string]any{}, http.StatusConflict, &answer)
	if answer.Error.Code != "scene_final" {
		t.Errorf("scanning the scene of a page that was left: %q, want scene_final", answer.Error.Code)
	}
}

// TestPhoneSimulator: the dev phone page in a second tab (at phone size)
// scans, shows the request and the warning, picks the match number and
// confirms; the first tab signs in.
func TestPhoneSimulator(t *testing.T) {
	srv, desk, scene, match := matchPage(t)
	if !regexp.MustCompile(`^\d\d$`).MatchString(match) {
		t.Fatalf("number matching is on but the page shows match code %q", match)
	}
	if href := desk.str(`document.querySelector('#phone-link').getAttribute('href')`); href != "/dev/phone?scene="+scene {
		t.Errorf("dev link = %q", href)
	}
	desk.shot("sim-1-desktop-match-code")

	ph := desk.newTab("phone")
	ph.do(chromedp.Emulate(device.IPhone13))
	ph.navigate(srv.URL + "/dev/phone?scene=" + scene)
	ph.wait("user step", `document.body.dataset.step === 'user'`, 10*time.Second)
	ph.shot("sim-2-phone-choose-user")
	ph.do(chromedp.Click(chromedp.CSS(`#user-list label`)), chromedp.Click(chromedp.ID("scan-button")))
	ph.wait("confirm step", `document.body.dataset.step === 'confirm'`, 10*time.Second)
	for id, want := range map[string]string{
		"req-ip":       "127.0.0.1",
		"warning-text": "never sends login codes by message or email",
		"req-time":     ":",
	} {
		if got := ph.str(`document.getElementById('` + id + `').textContent`); !strings.Contains(got, want) {
			t.Errorf("confirm page #%s = %q, want it to contain %q", id, got, want)
		}
	}
	// The label the server computed for this headless Chromium, as it is.
	if got := ph.str(`document.getElementById('req-browser').textContent`); !regexp.MustCompile(`^(Headless )?Chrome \d+ · Linux$`).MatchString(got) {
		t.Errorf("confirm page names the browser %q, want the server's label", got)
	}
	if n := ph.str(`String(document.querySelectorAll('#choices button').length)`); n != "3" {
		t.Errorf("confirm page offers %s match choices, want 3", n)
	}
	// Decline is at least as prominent as Confirm.
	area := func(id string) float64 {
		v, err := chromedp.Run(ph.ctx, chromedp.Evaluate[float64](`(r => r.width * r.height)(document.getElementById('`+id+`').getBoundingClientRect())`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if d, c := area("decline"), area("confirm"); d < c || d == 0 {
		t.Errorf("Decline (%.0f px²) is less prominent than Confirm (%.0f px²)", d, c)
	}
	ph.shot("sim-3-phone-confirm")

	desk.widgetState("#scanlogin", "scanned", 10*time.Second)
	if got := desk.shadowText("#scanlogin", "[data-role=nickname]"); got != "Alice" {
		t.Errorf("desktop shows scanner %q, want Alice", got)
	}
	if got := desk.shadowText("#scanlogin", ".overlay"); !strings.Contains(got, "Choose "+match) {
		t.Errorf("scanned overlay says %q, want it to ask for %s", got, match)
	}
	desk.shot("sim-4-desktop-scanned")

	ph.do(chromedp.Click(chromedp.CSS(`#choices button[data-code="`+match+`"]`)), chromedp.Click(chromedp.ID("confirm")))
	ph.wait("result", `document.body.dataset.result === 'confirmed'`, 10*time.Second)
	ph.shot("sim-5-phone-done")
	desk.wait("signed-in view", `document.body.dataset.view === 'user' && document.querySelector('#user-name').textContent === 'Alice'`, 10*time.Second)
	desk.shot("sim-6-desktop-signed-in")
}

// TestWidgetCrossOrigin: a page on another origin includes /scanlogin.js
// from the server, mounts the widget without options and signs in; the
// session cookie lands for the server's origin.
func TestWidgetCrossOrigin(t *testing.T) {
	var api string // the scanlogin server, known once it runs
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<style>body{font-family:serif;background:#fdf6e3;margin:2rem} img{width:10px!important} p{color:red}</style></head>
<body><h1>A partner shop</h1><div id="login" style="max-width:300px"></div><pre id="out"></pre>
<script src="%[1]s/scanlogin.js"></script>
<script>
ScanLogin.mount(document.getElementById('login'), {
  onSuccess: async (r) => {
    window.__result = r;
    const byCookie = await fetch('%[1]s/api/v1/me', {credentials: 'include'});
    const byToken = await fetch('%[1]s/api/v1/me', {headers: {Authorization: 'Bearer ' + r.access_token}});
    window.__me = {cookie: byCookie.status, token: byToken.status, user: byToken.ok ? await byToken.json() : null};
    document.getElementById('out').textContent = 'signed in as ' + r.user.nickname;
  },
});
</script></body></html>`, api)
	}))
	t.Cleanup(shop.Close)
	srv := startServer(t, serverOptions{AllowedOrigins: []string{shop.URL}})
	api = srv.URL
	if strings.TrimPrefix(shop.URL, "http://") == strings.TrimPrefix(srv.URL, "http://") {
		t.Fatal("the shop and the server share an origin")
	}

	// The widget fetches with credentials (for the session cookie), which
	// browsers allow cross-origin only with Allow-Credentials.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, srv.URL+"/api/v1/qr", nil)
	req.Header.Set("Origin", shop.URL)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != shop.URL {
			t.Errorf("server: preflight from an allowed origin: Access-Control-Allow-Origin %q, want %q", got, shop.URL)
		}
		if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Fatalf("server: preflight from an allowed origin: Access-Control-Allow-Credentials %q, want \"true\" "+
				"(without it the browser refuses every credentialed call of the widget, and the session cookie cannot land)", got)
		}
	}

	b := newBrowser(t)
	b.navigate(shop.URL + "/")
	scene := b.widgetState("#login", "pending", 15*time.Second)
	if w := b.str(`String(document.querySelector('#login').shadowRoot.querySelector('img.qr').getBoundingClientRect().width)`); w == "10" {
		t.Error("the host page's CSS reached the widget's QR image")
	}
	b.shot("cross-origin-1-pending")
	cy := newPhone(t, srv.URL, "e2e-cy", "Cy")
	cy.scan(scene)
	b.widgetState("#login", "scanned", 10*time.Second)
	cy.confirm(scene)
	b.wait("onSuccess and /me", `window.__me !== undefined`, 10*time.Second)
	if got := b.str(`window.__result.user.id`); got != cy.userID {
		t.Errorf("onSuccess got user %q, want %q", got, cy.userID)
	}
	if got := b.str(`window.__result.token_type + ' ' + (window.__result.access_token.split('.').length)`); got != "Bearer 3" {
		t.Errorf("onSuccess got token_type and JWT parts %q", got)
	}
	if got := b.str(`String(window.__me.token)`); got != "200" {
		t.Errorf("cross-origin GET /api/v1/me with the access token = %s, want 200", got)
	}
	if got := b.str(`String(window.__me.cookie)`); got != "200" {
		t.Errorf("cross-origin GET /api/v1/me with the session cookie (credentials: include) = %s, want 200", got)
	}
	b.shot("cross-origin-2-signed-in")
}

// TestRetry: a failed poll (network error, then 503 with Retry-After) is
// retried with a quiet message, never sooner than Retry-After says, and the
// login then works.
func TestRetry(t *testing.T) {
	srv := startServer(t, serverOptions{})
	b := newBrowser(t)
	paused := chromedp.Events(b.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/v1/qr/*/state*"}},
	}); err != nil {
		t.Fatal(err)
	}
	hits := make(chan time.Time, 16)
	release := make(chan struct{})
	go func() {
		<-release // the paused events queue up until the page is watched
		n := 0
		for ev, err := range paused {
			if err != nil {
				return
			}
			n++
			switch n {
			case 1:
				_, err = chromedp.Call(b.ctx, fetch.FailRequest, fetch.FailRequestParams{
					RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionRefused})
			case 2:
				_, err = chromedp.Call(b.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID: ev.RequestID, ResponseCode: http.StatusServiceUnavailable,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}, {Name: "Retry-After", Value: "3"}},
					Body:            []byte(`{"error":{"code":"unavailable","message":"the service is temporarily unavailable, retry later"}}`),
				})
			default:
				_, err = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}
			if err != nil {
				return
			}
			hits <- time.Now()
		}
	}()
	next := func(what string) time.Time {
		t.Helper()
		select {
		case at := <-hits:
			return at
		case <-time.After(15 * time.Second):
			t.Fatalf("no %s state poll", what)
			return time.Time{}
		}
	}

	b.navigate(srv.URL + "/")
	b.widgetState("#scanlogin", "pending", 15*time.Second) // its first poll is held
	b.do(chromedp.Evaluate[chromedp.Void](`window.__statuses = [];
		(st => new MutationObserver(() => window.__statuses.push(st.textContent))
			.observe(st, {childList: true, characterData: true, subtree: true}))(` + widget + `.shadowRoot.querySelector('.status'))`))
	close(release)
	next("first")
	b.shot("retry-1-network-error")
	second := next("second")
	b.shot("retry-2-busy")
	third := next("third")
	if gap := third.Sub(second); gap < 2900*time.Millisecond {
		t.Errorf("retried %v after a 503 with Retry-After: 3", gap.Round(time.Millisecond))
	}
	b.wait("the message back to normal", widget+`.shadowRoot.querySelector('.status').textContent.includes('Login code ready')`, 5*time.Second)
	statuses := b.str(`JSON.stringify(window.__statuses)`)
	for _, want := range []string{"Connection problem. Retrying in", "The server is busy. Retrying in 3 s"} {
		if !strings.Contains(statuses, want) {
			t.Errorf("status messages %s lack %q", statuses, want)
		}
	}
	b.signInWithPhone(srv.URL, "e2e-dee", "Dee", 10*time.Second)
}

// TestPhoneDecline: the simulator in Chinese declines; the page shows the
// login as cancelled.
func TestPhoneDecline(t *testing.T) {
	srv := startServer(t, serverOptions{})
	desk := newBrowser(t)
	desk.navigate(srv.URL + "/?lang=zh")
	scene := desk.widgetState("#scanlogin", "pending", 15*time.Second)

	ph := desk.newTab("phone")
	ph.do(chromedp.Emulate(device.Pixel2))
	ph.navigate(srv.URL + "/dev/phone?lang=zh&scene=" + scene)
	ph.wait("user step", `document.body.dataset.step === 'user'`, 10*time.Second)
	ph.do(chromedp.Click(chromedp.CSS(`input[name=user][value=custom]`), chromedp.NodeReady))
	ph.do(chromedp.SendKeys(chromedp.ID("openid"), "e2e-lei"), chromedp.SendKeys(chromedp.ID("nickname"), "小雷"),
		chromedp.Click(chromedp.ID("scan-button")))
	ph.wait("confirm step", `document.body.dataset.step === 'confirm'`, 10*time.Second)
	if got := ph.str(`document.getElementById('warning-text').textContent`); !strings.Contains(got, "不会通过短信或邮件发送登录二维码") {
		t.Errorf("zh warning = %q", got)
	}
	ph.shot("decline-1-phone-confirm-zh")
	desk.widgetState("#scanlogin", "scanned", 10*time.Second)
	if got := desk.shadowText("#scanlogin", "[data-role=nickname]"); got != "小雷" {
		t.Errorf("desktop shows scanner %q, want 小雷", got)
	}
	desk.shot("decline-2-desktop-scanned-zh")

	ph.do(chromedp.Click(chromedp.ID("decline")))
	ph.wait("declined", `document.body.dataset.result === 'declined'`, 10*time.Second)
	ph.shot("decline-3-phone-declined-zh")
	desk.widgetState("#scanlogin", "cancelled", 10*time.Second)
	if got := desk.shadowText("#scanlogin", ".title"); got != "你已取消此次登录" {
		t.Errorf("zh cancelled instructions say %q", got)
	}
	desk.shot("decline-4-desktop-cancelled-zh")
}

// TestMatchMismatch: picking the wrong number on the phone cancels the
// login (QR-phishing defence); both sides say so.
func TestMatchMismatch(t *testing.T) {
	srv, desk, scene, match := matchPage(t)

	ph := desk.newTab("phone")
	ph.do(chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
	ph.navigate(srv.URL + "/dev/phone?scene=" + scene)
	ph.wait("user step", `document.body.dataset.step === 'user'`, 10*time.Second)
	ph.do(chromedp.Click(chromedp.ID("scan-button")))
	ph.wait("confirm step", `document.body.dataset.step === 'confirm'`, 10*time.Second)

	// Confirm without a pick is refused on the page itself.
	ph.do(chromedp.Click(chromedp.ID("confirm")))
	if got := ph.str(`document.getElementById('status').textContent`); !strings.Contains(got, "Choose the number") {
		t.Errorf("confirm without a pick: status %q", got)
	}
	wrong := ph.str(fmt.Sprintf(`[...document.querySelectorAll('#choices button')].map(b => b.dataset.code).find(c => c !== %q)`, match))
	ph.do(chromedp.Click(chromedp.CSS(`#choices button[data-code="`+wrong+`"]`)), chromedp.Click(chromedp.ID("confirm")))
	ph.wait("error result", `document.body.dataset.result === 'error'`, 10*time.Second)
	if got := ph.str(`document.getElementById('result-text').textContent`); !strings.Contains(got, "did not match") {
		t.Errorf("wrong pick: phone says %q", got)
	}
	ph.shot("mismatch-1-phone")
	desk.widgetState("#scanlogin", "cancelled", 10*time.Second)
}

// intercept answers the page's requests matching pattern with answer (the
// request's URL and how many matched before it), or lets them through when
// answer gives nil. It returns a counter of the requests seen.
func (b *tab) intercept(pattern string, answer func(url string, n int) *fetch.FulfillRequestParams) func() int {
	b.t.Helper()
	paused := chromedp.Events(b.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
		b.t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			mu.Lock()
			seen := n
			n++
			mu.Unlock()
			if a := answer(ev.Request.URL, seen); a != nil {
				a.RequestID = ev.RequestID
				_, err = chromedp.Call(b.ctx, fetch.FulfillRequest, *a)
			} else {
				_, err = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}
			if err != nil {
				return
			}
		}
	}()
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func answer(status int, contentType, body string) *fetch.FulfillRequestParams {
	return &fetch.FulfillRequestParams{ResponseCode: int64(status),
		ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: contentType}}, Body: []byte(body)}
}

// TestPollBacksOffFromStrangeAnswers: a 200 that is not a state answer (a
// captive portal's page) is a failure with its backoff, not a poll at once
// and again: at most a handful of polls while it lasts, then the login goes
// on.
func TestPollBacksOffFromStrangeAnswers(t *testing.T) {
	srv := startServer(t, serverOptions{})
	b := newBrowser(t)
	var portal atomic.Bool
	portal.Store(true)
	polls := b.intercept("*/api/v1/qr/*/state*", func(string, int) *fetch.FulfillRequestParams {
		if portal.Load() {
			return answer(http.StatusOK, "text/html", "<html>portal</html>")
		}
		return nil
	})
	b.navigate(srv.URL + "/")
	b.widgetState("#scanlogin", "pending", 15*time.Second)
	time.Sleep(3 * time.Second)
	n := polls()
	portal.Store(false)
	if n > 3 {
		t.Fatalf("%d state polls in 3 s of answers without a state, want at most 3 (backing off from 1 s)", n)
	}
	b.signInWithPhone(srv.URL, "e2e-eve", "Eve", 20*time.Second)
}

// signInWithPhone has a new phone user scan and confirm the page's pending
// code, and waits for the signed-in view with their name.
func (b *tab) signInWithPhone(url, openid, name string, within time.Duration) {
	b.t.Helper()
	scene := b.widgetState("#scanlogin", "pending", time.Second)
	p := newPhone(b.t, url, openid, name)
	p.scan(scene)
	p.confirm(scene)
	b.wait("signed-in view", fmt.Sprintf(`document.body.dataset.view === 'user' && document.querySelector('#user-name').textContent === %q`, name), within)
}

// TestCodeImageTrouble: an image that failed once and then came is shown
// clear, without the "retrying" message; an image that fails for the whole
// life of its scene is an expired code, replaced by a new one.
func TestCodeImageTrouble(t *testing.T) {
	t.Run("fails once", func(t *testing.T) {
		srv := startServer(t, serverOptions{})
		b := newBrowser(t)
		b.intercept("*/api/v1/qr/*/image*", func(_ string, n int) *fetch.FulfillRequestParams {
			if n == 0 {
				return answer(http.StatusBadGateway, "application/json", `{"error":{"code":"wechat_unavailable","message":"WeChat is unavailable"}}`)
			}
			return nil
		})
		b.navigate(srv.URL + "/?lang=zh")
		b.widgetState("#scanlogin", "pending", 15*time.Second)
		if down, notice := b.str(widget+`.shadowRoot.querySelector('.frame').hasAttribute('data-down') ? 'dimmed' : ''`),
			b.shadowText("#scanlogin", ".notice"); down != "" || notice != "" {
			t.Fatalf("the code is up, yet %q with the notice %q", down, notice)
		}
	})
	t.Run("fails till the scene ends", func(t *testing.T) {
		const ttl = 3 * time.Second
		srv := startServer(t, serverOptions{SceneTTL: ttl})
		b := newBrowser(t)
		var first string
		var mu sync.Mutex
		images := b.intercept("*/api/v1/qr/*/image*", func(url string, _ int) *fetch.FulfillRequestParams {
			mu.Lock()
			defer mu.Unlock()
			if first == "" {
				first = url[:strings.Index(url, "/image")]
			}
			if strings.HasPrefix(url, first+"/") {
				return answer(http.StatusBadGateway, "application/json", `{"error":{"code":"wechat_unavailable","message":"WeChat is unavailable"}}`)
			}
			return nil
		})
		b.navigate(srv.URL + "/")
		scene := b.widgetState("#scanlogin", "pending", 6*ttl)
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(first, "/"+scene) || images() < 2 {
			t.Fatalf("pending with scene %s after %d image requests; the failing one was %s", scene, images(), first)
		}
	})
	t.Run("fails for every scene", func(t *testing.T) {
		// Past the automatic renewals the expired overlay stays, and no
		// "retrying" is left under it: nothing retries any more.
		const ttl = 2 * time.Second
		srv := startServer(t, serverOptions{SceneTTL: ttl})
		b := newBrowser(t)
		b.intercept("*/api/v1/qr/*/image*", func(string, int) *fetch.FulfillRequestParams {
			return answer(http.StatusBadGateway, "application/json", `{"error":{"code":"wechat_unavailable","message":"WeChat is unavailable"}}`)
		})
		b.navigate(srv.URL + "/")
		b.widgetState("#scanlogin", "expired", 40*time.Second)
		if down, notice := b.str(widget+`.shadowRoot.querySelector('.frame').hasAttribute('data-down') ? 'dimmed' : ''`),
			b.shadowText("#scanlogin", ".notice"); down != "" || notice != "" {
			t.Fatalf("expired for good, yet %q with the notice %q", down, notice)
		}
	})
}

// matchPage opens the login page of a server with number matching on: the
// browser, its scene and the match code it shows.
func matchPage(t *testing.T) (srv *testServer, b *tab, scene, match string) {
	t.Helper()
	srv = startServer(t, serverOptions{NumberMatch: true})
	b = newBrowser(t)
	b.navigate(srv.URL + "/")
	scene = b.widgetState("#scanlogin", "pending", 15*time.Second)
	return srv, b, scene, b.shadowText("#scanlogin", ".match strong")
}

// createScene makes a scene as a browser's page does, over plain HTTP.
func createScene(t *testing.T, base string) string {
	t.Helper()
	cr, err := http.Post(base+"/api/v1/qr", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Body.Close()
	var sc struct{ Scene string }
	if err := json.NewDecoder(cr.Body).Decode(&sc); err != nil || sc.Scene == "" {
		t.Fatalf("POST /api/v1/qr: %d %v", cr.StatusCode, err)
	}
	return sc.Scene
}

// codeShown opens the login page and waits until its code is shown: the
// server, the browser and the scene.
func codeShown(t *testing.T) (*testServer, *tab, string) {
	t.Helper()
	srv := startServer(t, serverOptions{})
	b := newBrowser(t)
	b.navigate(srv.URL + "/")
	scene := b.widgetState("#scanlogin", "pending", 15*time.Second)
	b.wait("QR image loaded", widget+`.shadowRoot.querySelector('img.qr').naturalWidth > 0`, 10*time.Second)
	return srv, b, scene
}
