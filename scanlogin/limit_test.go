package scanlogin

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// TestAllowShared: a limit of n per minute lets n events pass at once,
// whichever instance counts them (they share Redis), then refuses, writing
// nothing, with the time until the next may pass (a minute / n); one more
// passes when that time has come; the state lives no longer than it
// matters; each key and each limit counts on its own; 0 allows everything
// and costs nothing.
func TestAllowShared(t *testing.T) {
	srv := scanlogintest.Start(t)
	clk := newClock()
	a, rdb := newTestEngine(t, srv, Config{Now: clk.Now}, nil)
	b, _ := newTestEngine(t, srv, Config{Now: clk.Now}, nil)
	ctx := t.Context()
	refused := func(what string, err error, limit string, retry time.Duration) {
		t.Helper()
		var le *LimitError
		if !errors.Is(err, ErrRateLimited) || errors.Is(err, ErrPollLimited) || !errors.As(err, &le) ||
			le.Limit != limit || le.RetryAfter != retry {
			t.Fatalf("%s: %v, want a %s LimitError with %s to wait", what, err, limit, retry)
		}
	}

	for i, e := range []*Engine{a, b, a} {
		if err := e.Allow(ctx, "create", "192.0.2.1", 3); err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
	}
	key := a.limitKey("create", "192.0.2.1")
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("state TTL %v", ttl)
	}
	state := rdb.Get(ctx, key).Val()
	rdb.ConfigResetStat(ctx)
	refused("4th event, on the other instance", b.Allow(ctx, "create", "192.0.2.1", 3), "create", 20*time.Second)
	if c := perLoginWork(srv.CommandCalls(ctx, t)); c["evalsha"] != 1 || c["get"] != 1 || len(c) != 2 {
		t.Fatalf("a refused event: want one script reading one key, got %v", c)
	}
	if rdb.Get(ctx, key).Val() != state {
		t.Fatal("a refused event changed the state")
	}

	clk.Advance(19 * time.Second)
	refused("a second too early", a.Allow(ctx, "create", "192.0.2.1", 3), "create", time.Second)
	clk.Advance(time.Second)
	if err := b.Allow(ctx, "create", "192.0.2.1", 3); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
	refused("and then", a.Allow(ctx, "create", "192.0.2.1", 3), "create", 20*time.Second)

	if err := a.Allow(ctx, "create", "192.0.2.2", 3); err != nil {
		t.Fatalf("another IP: %v", err)
	}
	if err := a.Allow(ctx, "login", "192.0.2.1", 3); err != nil {
		t.Fatalf("another limit: %v", err)
	}

	rdb.ConfigResetStat(ctx)
	for range 10 {
		if err := a.Allow(ctx, "create", "192.0.2.9", 0); err != nil {
			t.Fatalf("limit off: %v", err)
		}
	}
	if c := perLoginWork(srv.CommandCalls(ctx, t)); len(c) != 0 {
		t.Fatalf("a limit turned off cost %v", c)
	}
}

// TestScanLimit: with ScansPerMinute set, a user's scans are counted
// across scenes and instances by the script that reads the scanner's
// profile (GET and SET of the limit's state, HMGET); the scan over the
// limit changes nothing and says when to come back; another user has their
// own count; a user cache that cannot be read leaves the count standing.
func TestScanLimit(t *testing.T) {
	srv := scanlogintest.Start(t)
	a, rdb := newTestEngine(t, srv, Config{ScansPerMinute: 2}, nil)
	b, _ := newTestEngine(t, srv, Config{ScansPerMinute: 2}, nil)
	ctx := t.Context()
	u, _, err := a.LoginUser(ctx, LoginInfo{OpenID: "oid-scan-limit"})
	if err != nil {
		t.Fatal(err)
	}
	scene := func() string {
		s, _, err := a.CreateScene(ctx, NewScene{})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}

	if _, err := a.Scan(ctx, scene(), userA); err != nil { // loads the script
		t.Fatal(err)
	}
	rdb.ConfigResetStat(ctx)
	if _, err := a.Scan(ctx, scene(), u.ID); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"set": 3, "evalsha": 2, "get": 2, "hmget": 1, "publish": 1}
	if c := perLoginWork(srv.CommandCalls(ctx, t)); len(c) != len(want) {
		t.Fatalf("create and scan: %v, want %v", c, want)
	} else {
		for k, n := range want {
			if c[k] != n {
				t.Fatalf("create and scan: %v, want %v", c, want)
			}
		}
	}
	if _, err := b.Scan(ctx, scene(), u.ID); err != nil {
		t.Fatalf("2nd scan, on the other instance: %v", err)
	}
	third := scene()
	s, err := a.Scan(ctx, third, u.ID)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "scan" || le.RetryAfter < 29*time.Second || le.RetryAfter > 30*time.Second || s != nil {
		t.Fatalf("3rd scan: %+v %v, want a LimitError", s, err)
	}
	if s, _ := a.Scene(ctx, third); s.State != StatePending {
		t.Fatalf("the refused scan changed the scene: %s", s.State)
	}
	if _, err := a.Scan(ctx, third, userB); err != nil {
		t.Fatalf("another user: %v", err)
	}

	v, _, err := a.LoginUser(ctx, LoginInfo{OpenID: "oid-scan-limit-2"})
	if err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, a.userCacheKey(v.ID), "x", time.Minute) // HMGET fails on a string
	for range 2 {
		if s, err := a.Scan(ctx, scene(), v.ID); err != nil || s.Scanner != nil {
			t.Fatalf("scan with the cache unreadable: %+v %v", s, err)
		}
	}
	if _, err := a.Scan(ctx, scene(), v.ID); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("3rd scan with the cache unreadable: %v, want ErrRateLimited", err)
	}
}

// perLoginWork drops what is not an operation's own work from INFO
// commandstats: resetting the stats, new connections' HELLO, the
// subscriber's PINGs.
func perLoginWork(calls map[string]int64) map[string]int64 {
	for k := range calls {
		switch {
		case k == "config|resetstat", k == "info":
			delete(calls, k) // the test's own
		case k == "hello", k == "ping", k == "subscribe", strings.HasPrefix(k, "client|"):
			// A connection's set-up and the subscribers' keep-alive: an
			// engine's subscriber may (re)connect inside the window.
			delete(calls, k)
		}
	}
	return calls
}
