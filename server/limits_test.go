package server_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestRateLimitForgedXFF: with no trusted proxy, X-Forwarded-For is
// ignored, so rotating it never resets the per-IP limit.
func TestRateLimitForgedXFF(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{Limits: app.Limits{CreatePerIP: 3, LoginPerIP: 3, ScanPerUser: 2, PollPerScene: 3}})
	c := newClient(t, inst)
	for i := range 3 {
		c.req("POST", "/api/v1/qr", "", nil, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i), "X-Real-IP", fmt.Sprintf("198.51.100.%d", i)).must(t, 201)
	}
	for i := range 5 {
		r := c.req("POST", "/api/v1/qr", "", nil, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d, 10.0.0.%d", 100+i, i))
		if r.Status != 429 || r.errCode() != "rate_limited" {
			t.Fatalf("request %d with a forged X-Forwarded-For: %d %s", i, r.Status, r.Body)
		}
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}

	// Login per IP.
	for range 3 {
		c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": inst.MintCode(t, newOpenID(), "")}).must(t, 200)
	}
	r := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": inst.MintCode(t, newOpenID(), "")}, "X-Forwarded-For", "192.0.2.1")
	if r.Status != 429 {
		t.Fatalf("4th login: %d %s", r.Status, r.Body)
	}
}

// TestRateLimitScansAndPolls: scans per user and polls per scene.
func TestRateLimitScansAndPolls(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{Limits: app.Limits{CreatePerIP: 100, LoginPerIP: 100, ScanPerUser: 2, PollPerScene: 3}})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "")
	for range 2 {
		sc := c.create()
		c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
	}
	sc := c.create()
	if r := c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil); r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("3rd scan: %d %s", r.Status, r.Body)
	}
	for range 3 {
		c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
	}
	if r := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil); r.Status != 429 {
		t.Fatalf("4th poll: %d %s", r.Status, r.Body)
	}
	other := c.create() // another scene has its own budget
	c.req("GET", "/api/v1/qr/"+other.ID+"/state", other.PollToken, nil).must(t, 200)
}

// TestTrustedProxy: behind a configured proxy the client address comes from
// X-Forwarded-For, so two clients behind it have separate limits and the
// browser IP shown on the phone is the client's.
func TestTrustedProxy(t *testing.T) {
	_, loop, _ := net.ParseCIDR("127.0.0.1/32")
	inst := servertest.Start(t, servertest.Options{
		TrustedProxies: []*net.IPNet{loop},
		Limits:         app.Limits{CreatePerIP: 1, LoginPerIP: 100, ScanPerUser: 100, PollPerScene: 100},
	})
	c := newClient(t, inst)
	r := c.req("POST", "/api/v1/qr", "", nil, "X-Forwarded-For", "203.0.113.7").must(t, 201)
	c.req("POST", "/api/v1/qr", "", nil, "X-Forwarded-For", "203.0.113.8").must(t, 201)
	c.req("POST", "/api/v1/qr", "", nil, "X-Forwarded-For", "203.0.113.7").must(t, 429)
	// A client cannot prepend a fake hop: the proxy appends the real one.
	c.req("POST", "/api/v1/qr", "", nil, "X-Forwarded-For", "198.51.100.1, 203.0.113.7").must(t, 429)

	tok, _ := c.login(inst, "")
	scan := c.req("POST", "/api/v1/qr/"+r.str("scene")+"/scan", tok, nil).must(t, 200)
	if b, _ := scan.JSON["browser"].(map[string]any); b["ip"] != "203.0.113.7" {
		t.Fatalf("browser ip: %s", scan.Body)
	}
}

// TestPollLimitPerToken: the scene ID is on the QR for anyone to see; a
// burst of polls without the poll token, or with a wrong one, must not
// spend the budget of the browser that holds it.
func TestPollLimitPerToken(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{Limits: app.Limits{CreatePerIP: 100, LoginPerIP: 100, ScanPerUser: 100, PollPerScene: 3}})
	c := newClient(t, inst)
	sc := c.create()
	for i := range 10 {
		for _, tok := range []string{"", "wrong-token"} {
			if r := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", tok, nil); r.Status != 401 && r.Status != 429 {
				t.Fatalf("stranger's poll %d: %d %s", i, r.Status, r.Body)
			}
		}
	}
	for range 3 {
		c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
	}
	// The browser's own budget is still finite, and says when to come back.
	r := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 429)
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 || r.errCode() != "rate_limited" {
		t.Fatalf("poll over the limit: Retry-After %q, code %q", r.Header.Get("Retry-After"), r.errCode())
	}
}

// TestRateLimitsSharedByInstances: two instances on one Redis count every
// limit together, whichever instance a request lands on, and the refusal
// says when to come back (within the minute).
func TestRateLimitsSharedByInstances(t *testing.T) {
	limits := app.Limits{CreatePerIP: 2, LoginPerIP: 100, ScanPerUser: 2, PollPerScene: 2}
	a := servertest.Start(t, servertest.Options{Limits: limits})
	b := servertest.Start(t, servertest.Options{RedisURL: a.Redis.URL(), DatabaseURL: a.DatabaseURL, Limits: limits})
	ca, cb := newClient(t, a), newClient(t, b)
	retryWithinMinute := func(what string, r *response) {
		t.Helper()
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != 429 || r.errCode() != "rate_limited" || err != nil || ra < 1 || ra > 60 {
			t.Fatalf("%s: %d, Retry-After %q: %s", what, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}

	s1, s2 := ca.create(), cb.create()
	retryWithinMinute("3rd create, on the first instance", ca.req("POST", "/api/v1/qr", "", nil))
	retryWithinMinute("4th create, on the second", cb.req("POST", "/api/v1/qr", "", nil))

	tok, _ := ca.login(a, "")
	ca.req("POST", "/api/v1/qr/"+s1.ID+"/scan", tok, nil).must(t, 200)
	cb.req("POST", "/api/v1/qr/"+s2.ID+"/scan", tok, nil).must(t, 200)
	retryWithinMinute("3rd scan of the user, on either", ca.req("POST", "/api/v1/qr/"+s2.ID+"/scan", tok, nil))

	ca.req("GET", "/api/v1/qr/"+s1.ID+"/state", s1.PollToken, nil).must(t, 200)
	cb.req("GET", "/api/v1/qr/"+s1.ID+"/state", s1.PollToken, nil).must(t, 200)
	retryWithinMinute("3rd poll", ca.req("GET", "/api/v1/qr/"+s1.ID+"/state", s1.PollToken, nil))
}
