package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/sqlstore/sqlstoretest"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestFlow is the whole product on real Redis and the fake WeChat over HTTP:
// mp login -> create -> a poll waiting -> scan -> scanned -> confirm ->
// confirmed -> redeem -> /api/v1/me -> refresh -> the old refresh token
// again within the reuse window gets the same successor, after it is 401
// and kills the session -> a fresh login -> logout -> 401.
func TestFlow(t *testing.T) {
	const reuseWindow = time.Second // generous: a loaded machine is slow between two requests
	inst := servertest.Start(t, servertest.Options{RefreshReuseWindow: reuseWindow})
	c := newClient(t, inst)

	mpToken, userID := c.login(inst, "Alice")
	if mpToken == "" || userID == "" {
		t.Fatal("no mp token or user id")
	}
	c.req("GET", "/api/v1/mp/me", mpToken, nil).must(t, 200)

	created := c.req("POST", "/api/v1/qr", "", nil, "User-Agent", "flow-test-browser/1.0").must(t, 201)
	sc := scene{ID: created.str("scene"), PollToken: created.str("poll_token")}
	if created.str("state") != "pending" || created.num("version") != 1 || created.num("expires_in") <= 0 ||
		created.num("poll_wait") != 25 || len(created.str("match_code")) != 2 || created.str("expires_at") == "" ||
		!strings.HasSuffix(created.str("qr_image_url"), "/api/v1/qr/"+sc.ID+"/image") {
		t.Fatalf("create: %s", created.Body)
	}
	if created.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("create: Cache-Control %q", created.Header.Get("Cache-Control"))
	}
	img := c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil).must(t, 200)
	if ct := img.Header.Get("Content-Type"); ct != "image/png" && ct != "image/jpeg" {
		t.Fatalf("image content type %q", ct)
	}
	c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil).must(t, 200)
	if n := inst.Fake.Calls("getwxacodeunlimit"); n != 1 {
		t.Errorf("getwxacodeunlimit called %d times for one scene, want 1", n)
	}

	// Without since the poll answers at once.
	st := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
	if st.str("state") != "pending" || st.num("version") != 1 || st.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("state: %s %v", st.Body, st.Header)
	}

	poll := func(since string) chan *response {
		ch := make(chan *response, 1)
		go func() {
			ch <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since="+since+"&wait=20", sc.PollToken, nil)
		}()
		return ch
	}
	waiting := poll("1")
	waitGauge(t, inst, "1") // the scan wakes a waiting poll, not one arriving after it
	scan := c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", mpToken, nil).must(t, 200)
	browser, _ := scan.JSON["browser"].(map[string]any)
	site, _ := scan.JSON["site"].(map[string]any)
	if scan.str("state") != "scanned" || browser["user_agent"] != "flow-test-browser/1.0" || browser["ip"] != "127.0.0.1" ||
		site["name"] != "scanlogin demo" || scan.num("expires_in") <= 0 {
		t.Fatalf("scan: %s", scan.Body)
	}
	if _, ok := scan.JSON["match_choices"]; ok {
		t.Errorf("match_choices without number match: %s", scan.Body)
	}
	got := recvWithin(t, waiting, 3*time.Second).must(t, 200)
	by, _ := got.JSON["scanned_by"].(map[string]any)
	if got.str("state") != "scanned" || got.num("version") != 2 || by["nickname"] != "Alice" {
		t.Fatalf("poll after scan: %s", got.Body)
	}

	waiting = poll("2")
	waitGauge(t, inst, "1")
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", mpToken, nil).must(t, 200)
	got = recvWithin(t, waiting, 3*time.Second).must(t, 200)
	if got.str("state") != "confirmed" || got.num("version") != 3 {
		t.Fatalf("poll after confirm: %s", got.Body)
	}

	red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
	access, refresh := red.str("access_token"), red.str("refresh_token")
	user, _ := red.JSON["user"].(map[string]any)
	if access == "" || refresh == "" || red.str("token_type") != "Bearer" || red.num("expires_in") != 900 || user["id"] != userID || user["nickname"] != "Alice" {
		t.Fatalf("redeem: %s", red.Body)
	}
	if red.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("redeem: Cache-Control %q", red.Header.Get("Cache-Control"))
	}
	cookie := sessionCookie(t, red.Header)
	if cookie.Value != access || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Secure {
		// Secure is off only because the instance is plain-HTTP loopback.
		t.Errorf("cookie: %+v", cookie)
	}
	c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 409)
	final := c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=3", sc.PollToken, nil).must(t, 200)
	if final.str("state") != "redeemed" {
		t.Fatalf("state after redeem: %s", final.Body)
	}

	me := c.req("GET", "/api/v1/me", access, nil).must(t, 200)
	if me.str("id") != userID || me.str("nickname") != "Alice" || me.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("me: %s", me.Body)
	}
	c.req("GET", "/api/v1/me", "", nil, "Cookie", "scanlogin_session="+access).must(t, 200)

	// The phone sees the browser session and could revoke it.
	sessions := c.req("GET", "/api/v1/mp/sessions", mpToken, nil).must(t, 200)
	if list, _ := sessions.JSON["sessions"].([]any); len(list) != 1 {
		t.Fatalf("sessions: %s", sessions.Body)
	}

	ref := c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}).must(t, 200)
	access2, refresh2 := ref.str("access_token"), ref.str("refresh_token")
	if access2 == "" || refresh2 == "" || refresh2 == refresh || ref.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("refresh: %s", ref.Body)
	}
	c.req("GET", "/api/v1/me", access2, nil).must(t, 200)

	// A second tab with the same token, at once: the same successor.
	again := c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}).must(t, 200)
	if again.str("refresh_token") != refresh2 {
		t.Fatalf("a refresh within the reuse window got another successor: %s", again.Body)
	}
	c.req("GET", "/api/v1/me", again.str("access_token"), nil).must(t, 200)

	// The spent refresh token comes back after the window: 401, and the
	// session is dead.
	time.Sleep(reuseWindow + 50*time.Millisecond)
	reuse := c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}).must(t, 401)
	if reuse.errCode() != "invalid_token" {
		t.Fatalf("reuse: %s", reuse.Body)
	}
	c.req("GET", "/api/v1/me", access2, nil).must(t, 401)
	c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh2}).must(t, 401)

	// A fresh login, then logout.
	sc2, _ := c.confirmed(inst)
	red2 := c.req("POST", "/api/v1/qr/"+sc2.ID+"/redeem", sc2.PollToken, nil).must(t, 200)
	access3 := red2.str("access_token")
	c.req("GET", "/api/v1/me", access3, nil).must(t, 200)
	out := c.req("POST", "/api/v1/session/logout", access3, nil).must(t, 204)
	if ck := sessionCookie(t, out.Header); ck.MaxAge >= 0 {
		t.Errorf("logout does not clear the cookie: %+v", ck)
	}
	c.req("GET", "/api/v1/me", access3, nil).must(t, 401)
	c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": red2.str("refresh_token")}).must(t, 401)
}

func recvWithin(t *testing.T, ch chan *response, d time.Duration) *response {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("no answer within %s", d)
		return nil
	}
}

func sessionCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == "scanlogin_session" {
			return ck
		}
	}
	t.Fatalf("no session cookie in %v", h["Set-Cookie"])
	return nil
}

// TestTwoInstances: a poll on one instance wakes when the scene is
// confirmed on another sharing the Redis (and the PostgreSQL database, as
// deployed); tokens from one work on the other.
func TestTwoInstances(t *testing.T) {
	a := servertest.Start(t, servertest.Options{DatabaseURL: sqlstoretest.Database(t)})
	b := servertest.Start(t, servertest.Options{RedisURL: a.Redis.URL(), DatabaseURL: a.DatabaseURL})
	ca, cb := newClient(t, a), newClient(t, b)

	sc := ca.create()
	tok, _ := cb.login(b, "")
	cb.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)

	ch := make(chan *response, 1)
	go func() { ch <- ca.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=2&wait=20", sc.PollToken, nil) }()
	waitGauge(t, a, "1")
	start := time.Now()
	cb.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
	got := recvWithin(t, ch, 3*time.Second).must(t, 200)
	if got.str("state") != "confirmed" {
		t.Fatalf("poll on a: %s", got.Body)
	}
	t.Logf("woke %s after the confirm on the other instance", time.Since(start))

	red := cb.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
	ca.req("GET", "/api/v1/me", red.str("access_token"), nil).must(t, 200)
}
