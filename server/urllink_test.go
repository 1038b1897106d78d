package server_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server/servertest"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// TestSceneLink: one WeChat call per scene, however many ask at once; the
// link opens the confirm page with the scene; JSON or a redirect; refused
// for finished scenes; an error page for a browser.
func TestSceneLink(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	sc := c.create()

	var wg sync.WaitGroup
	links := make([]string, 8)
	for i := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.req("GET", "/api/v1/qr/"+sc.ID+"/link", "", nil, "Accept", "application/json")
			if r.Status == 200 {
				links[i] = r.str("url_link")
			}
		}()
	}
	wg.Wait()
	for _, l := range links {
		if l == "" || l != links[0] {
			t.Fatalf("links %q: want one link for all", links)
		}
	}
	if n := inst.Fake.Calls(wxfake.APIURLLink); n != 1 {
		t.Fatalf("%d generate_urllink calls, want 1", n)
	}
	l, err := inst.Fake.ResolveURLLink(t.Context(), links[0])
	if err != nil || l.Path != "pages/scan/scan" || l.Query != "scene="+sc.ID+"&via=link" || l.EnvVersion != "develop" {
		t.Fatalf("the link opens %+v (%v)", l, err)
	}
	if until := time.Until(l.Expires); until < 100*time.Second || until > 121*time.Second {
		t.Fatalf("link expires in %s, want the scene's life (120 s)", until)
	}

	// A browser's tap is redirected.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", inst.URL+"/api/v1/qr/"+sc.ID+"/link", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != links[0] {
		t.Fatalf("redirect: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := inst.Fake.Calls(wxfake.APIURLLink); n != 1 {
		t.Fatalf("%d generate_urllink calls after a cached read, want 1", n)
	}

	// Finished scenes get no link: cancelled (409), expired (410).
	c.req("DELETE", "/api/v1/qr/"+sc.ID, sc.PollToken, nil).must(t, 200)
	if r := c.req("GET", "/api/v1/qr/"+sc.ID+"/link", "", nil, "Accept", "application/json"); r.Status != 409 || r.errCode() != "scene_final" {
		t.Fatalf("cancelled scene: %d %s", r.Status, r.Body)
	}
	// ... and a browser gets the error page, in its language.
	r := c.req("GET", "/api/v1/qr/"+sc.ID+"/link", "", nil, "Accept", "text/html")
	if r.Status != 409 || !strings.Contains(r.Header.Get("Content-Type"), "text/html") || !bytes.Contains(r.Body, []byte(`data-code="scene_final"`)) {
		t.Fatalf("error page: %d %s %.300s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	if r := c.req("GET", "/api/v1/qr/"+strings.Repeat("0", 32)+"/link", "", nil, "Accept", "application/json"); r.Status != 404 {
		t.Fatalf("unknown scene: %d %s", r.Status, r.Body)
	}
	if r := c.req("GET", "/api/v1/qr/nope/link", "", nil, "Accept", "application/json"); r.Status != 400 {
		t.Fatalf("bad scene: %d %s", r.Status, r.Body)
	}
	if n := inst.Fake.Calls(wxfake.APIURLLink); n != 1 {
		t.Fatalf("%d generate_urllink calls after refusals, want 1", n)
	}
}

func TestSceneLinkExpiredAndLimited(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{SceneTTL: time.Second, Limits: app.Limits{CreatePerIP: 2, LoginPerIP: 100, ScanPerUser: 100, PollPerScene: 100}})
	c := newClient(t, inst)
	sc := c.create()
	time.Sleep(1100 * time.Millisecond)
	if r := c.req("GET", "/api/v1/qr/"+sc.ID+"/link", "", nil, "Accept", "application/json"); r.Status != 410 || r.errCode() != "scene_expired" {
		t.Fatalf("expired scene: %d %s", r.Status, r.Body)
	}
	c.req("GET", "/api/v1/qr/"+sc.ID+"/link", "", nil, "Accept", "application/json")
	if r := c.req("GET", "/api/v1/qr/"+sc.ID+"/link", "", nil, "Accept", "application/json"); r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third link request of the minute (limit 2): %d %s", r.Status, r.Body)
	}
	if n := inst.Fake.Calls(wxfake.APIURLLink); n != 0 {
		t.Fatalf("%d generate_urllink calls for an expired scene", n)
	}
}

// TestLinkMode: the code is prefix + scene, made locally (no WeChat call);
// the landing page and the verification files are served; scancode_time is
// read for its shape only: a phone whose clock is an hour off still signs in.
func TestLinkMode(t *testing.T) {
	const prefix = "https://login.example.com/s/"
	inst := servertest.Start(t, servertest.Options{Config: &app.Config{
		QRMode: "link", QRLinkPrefix: prefix,
		VerifyFiles: map[string][]byte{"Ab12Cd34.txt": []byte("f00dfeed1234")},
	}})
	c := newClient(t, inst)
	sc := c.create()
	r := c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil).must(t, 200)
	if got := servertest.DecodeQR(t, r.Body); got != prefix+sc.ID {
		t.Fatalf("the code says %q, want %q", got, prefix+sc.ID)
	}
	if n := inst.Fake.Calls(wxfake.APIQRCode); n != 0 {
		t.Fatalf("%d getwxacodeunlimit calls in link mode", n)
	}
	u, _ := url.Parse(prefix + sc.ID)
	land := c.req("GET", u.Path, "", nil).must(t, 200)
	if !strings.Contains(land.Header.Get("Content-Type"), "text/html") || !bytes.Contains(land.Body, []byte("landing.js")) {
		t.Fatalf("landing page: %s %.200s", land.Header.Get("Content-Type"), land.Body)
	}
	for _, p := range []string{"/Ab12Cd34.txt", "/s/Ab12Cd34.txt"} {
		v := c.req("GET", p, "", nil).must(t, 200)
		if string(v.Body) != "f00dfeed1234" || !strings.HasPrefix(v.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("%s: %q %s", p, v.Body, v.Header.Get("Content-Type"))
		}
	}

	tok, _ := c.login(inst, "")
	if r := c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, map[string]any{"scancode_time": -5}); r.Status != 400 || r.errCode() != "invalid_request" {
		t.Fatalf("scancode_time -5: %d %s", r.Status, r.Body)
	}
	// A clock an hour ahead, then the same scan from a clock an hour behind
	// (the rescan is idempotent): expiry is the server clock's to judge.
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, map[string]any{"scancode_time": time.Now().Add(time.Hour).Unix()}).must(t, 200)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, map[string]any{"scancode_time": time.Now().Add(-time.Hour).Unix()}).must(t, 200)
	// After the refusals the scene is still good.
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
}
