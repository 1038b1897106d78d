package wxapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// instance is one "server instance": its own fake WeChat (state in the
// shared Redis, as in dev mode) and its own client (token shared through
// the same Redis).
type instance struct {
	fake *wxfake.Fake
	srv  *httptest.Server
	cl   *wxapi.Client
}

func startInstances(t *testing.T, rdb redis.UniversalClient, n int) []instance {
	t.Helper()
	return startInstancesAt(t, rdb, n, time.Now)
}

func startInstancesAt(t *testing.T, rdb redis.UniversalClient, n int, now func() time.Time) []instance {
	t.Helper()
	var out []instance
	for range n {
		f, srv := wxfake.Start(t, wxfake.Options{AppID: "wxshared0000000000", Secret: "shared-secret", Redis: rdb, Now: now})
		cl, err := wxapi.New(wxapi.Config{AppID: f.AppID(), Secret: f.Secret(), BaseURL: srv.URL, Redis: rdb, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, instance{f, srv, cl})
	}
	return out
}

func tokenFetches(ins []instance) int {
	n := 0
	for _, in := range ins {
		n += in.fake.Calls(wxfake.APIStableToken)
	}
	return n
}

func checksessionCalls(ins []instance) int {
	n := 0
	for _, in := range ins {
		n += in.fake.Calls(wxfake.APICheckSession)
	}
	return n
}

// burst runs callers goroutines per instance, each making calls
// CheckSessionKey calls, and returns the first error.
func burst(t *testing.T, ins []instance, callers, calls int, openID, sk string) error {
	t.Helper()
	var wg sync.WaitGroup
	var first atomic.Value
	start := make(chan struct{})
	for _, in := range ins {
		for range callers {
			wg.Go(func() {
				<-start
				for range calls {
					if err := in.cl.CheckSessionKey(t.Context(), openID, sk); err != nil {
						first.CompareAndSwap(nil, err)
						return
					}
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

// Two instances on one Redis, 100 concurrent callers each: one token fetch
// in all. Then the token is invalidated mid-burst (a force refresh elsewhere:
// the fake answers 40001): exactly one re-fetch, and every call succeeds.
func TestSharedTokenTwoInstances(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	ins := startInstances(t, rdb, 2)
	ctx := t.Context()
	sk, err := ins[0].fake.SessionKey(ctx, "oShared")
	if err != nil {
		t.Fatal(err)
	}
	// Slow the first fetch on both fakes so the instances really contend.
	for _, in := range ins {
		in.fake.Inject(wxfake.APIStableToken, wxfake.Fault{Delay: 100 * time.Millisecond, Times: 1})
	}
	if err := burst(t, ins, 100, 1, "oShared", sk); err != nil {
		t.Fatal(err)
	}
	if n := tokenFetches(ins); n != 1 {
		t.Fatalf("%d token fetches for 200 callers on 2 instances, want 1", n)
	}
	tok0, _ := ins[0].cl.AccessToken(ctx)
	tok1, _ := ins[1].cl.AccessToken(ctx)
	if tok0 != tok1 {
		t.Fatal("instances hold different tokens")
	}

	// Mid-burst, someone force-refreshes: the shared token now answers 40001.
	before := tokenFetches(ins)
	baseCalls := checksessionCalls(ins)
	const callers, calls = 100, 5
	forced := make(chan error, 1)
	go func() {
		for checksessionCalls(ins) < baseCalls+300 {
			time.Sleep(time.Millisecond)
		}
		body := fmt.Sprintf(`{"grant_type":"client_credential","appid":%q,"secret":%q,"force_refresh":true}`, ins[0].fake.AppID(), ins[0].fake.Secret())
		resp, err := http.Post(ins[0].srv.URL+"/cgi-bin/stable_token", "application/json", bytes.NewBufferString(body))
		if err == nil {
			resp.Body.Close()
		}
		forced <- err
	}()
	if err := burst(t, ins, callers, calls, "oShared", sk); err != nil {
		t.Fatalf("a call failed across the invalidation: %v", err)
	}
	if err := <-forced; err != nil {
		t.Fatal(err)
	}
	got := checksessionCalls(ins) - baseCalls
	if got <= 2*callers*calls {
		t.Fatalf("%d checksession calls for %d business calls: the token was not invalidated mid-burst", got, 2*callers*calls)
	}
	if n := tokenFetches(ins) - before - 1; n != 1 { // -1: the force refresh itself
		t.Fatalf("%d token re-fetches after the invalidation, want 1", n)
	}
	t.Logf("%d calls were retried after 40001", got-2*callers*calls)
	tok0b, _ := ins[0].cl.AccessToken(ctx)
	tok1b, _ := ins[1].cl.AccessToken(ctx)
	if tok0b != tok1b || tok0b == tok0 {
		t.Fatal("instances do not share the new token")
	}
}

// An instance that starts later reads the shared token instead of fetching.
func TestSharedTokenLateInstance(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	ins := startInstances(t, rdb, 1)
	tok, err := ins[0].cl.AccessToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	late, err := wxapi.New(wxapi.Config{AppID: ins[0].fake.AppID(), Secret: ins[0].fake.Secret(), BaseURL: ins[0].srv.URL, Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := late.AccessToken(t.Context()); err != nil || got != tok {
		t.Fatalf("late instance: %v", err)
	}
	if n := ins[0].fake.Calls(wxfake.APIStableToken); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// With Redis down the client still gets a token (normal-mode stable_token is
// idempotent, so fetching without the lock is safe).
func TestSharedTokenRedisDown(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	f, srv := wxfake.Start(t, wxfake.Options{})
	cl, err := wxapi.New(wxapi.Config{AppID: f.AppID(), Secret: f.Secret(), BaseURL: srv.URL, Redis: rdb, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rs.Stop()
	if _, err := cl.AccessToken(t.Context()); err != nil {
		t.Fatalf("Redis down: %v", err)
	}
}

// A lock left by an instance that died mid-fetch lapses at its deadline;
// the next instance then fetches.
func TestSharedTokenStaleLock(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	ins := startInstances(t, rdb, 1)
	if err := rdb.Set(t.Context(), "sl:wx:token:"+ins[0].fake.AppID()+":lock", "dead-instance", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := ins[0].cl.AccessToken(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("fetched after %v while another instance held the lock", d)
	}
	if n := ins[0].fake.Calls(wxfake.APIStableToken); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// A token rejected on one instance is dropped from Redis only if it is still
// the shared one: an instance holding an old token never deletes a newer one.
func TestSharedTokenCompareAndDelete(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	ins := startInstances(t, rdb, 2)
	ctx := t.Context()
	old, err := ins[0].cl.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ins[1].cl.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	// Instance 0 sees a 40001 and moves to a new token (here: the fake
	// returns the same token in normal mode, so force one first).
	ins[0].fake.ExpireTokens()
	sk, _ := ins[0].fake.SessionKey(ctx, "oCAS")
	if err := ins[0].cl.CheckSessionKey(ctx, "oCAS", sk); err != nil {
		t.Fatal(err)
	}
	key := "sl:wx:token:" + ins[0].fake.AppID()
	newTok, _ := rdb.HGet(ctx, key, "token").Result()
	if newTok == "" || newTok == old {
		t.Fatalf("shared token not replaced")
	}
	// Instance 1 still holds the old token; its 42001 must not delete the
	// new shared token, and it must pick the new one up without a fetch.
	fetches := tokenFetches(ins)
	if err := ins[1].cl.CheckSessionKey(ctx, "oCAS", sk); err != nil {
		t.Fatal(err)
	}
	if got, _ := rdb.HGet(ctx, key, "token").Result(); got != newTok {
		t.Fatal("the stale instance replaced or deleted the newer shared token")
	}
	if n := tokenFetches(ins) - fetches; n != 0 {
		t.Fatalf("%d fetches, want 0: the new token was in Redis", n)
	}
}

// Refresh ahead of expiry across instances: callers keep getting the valid
// token without waiting, one instance fetches the new one, both adopt it.
func TestSharedRefreshAhead(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	clk := newClock()
	ins := startInstancesAt(t, rdb, 2, clk.Now)
	ctx := t.Context()
	old, err := ins[0].cl.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ins[1].cl.AccessToken(ctx); got != old {
		t.Fatal("instances disagree")
	}
	clk.Advance(7200*time.Second - 3*time.Minute)
	for _, in := range ins {
		in.fake.Inject(wxfake.APIStableToken, wxfake.Fault{Delay: 100 * time.Millisecond, Times: 1})
	}
	var wg sync.WaitGroup
	for _, in := range ins {
		for range 50 {
			wg.Go(func() {
				start := time.Now()
				tok, err := in.cl.AccessToken(ctx)
				if err != nil || (tok != old && time.Since(start) > 50*time.Millisecond) {
					t.Errorf("caller got %v after %v", err, time.Since(start))
				}
			})
		}
	}
	wg.Wait()
	newTok := waitNewToken(t, ins[0].cl, old)
	if got := waitNewToken(t, ins[1].cl, old); got != newTok {
		t.Fatal("instances adopted different tokens")
	}
	if n := tokenFetches(ins); n != 2 {
		t.Fatalf("%d fetches in all, want 2 (the first and one refresh)", n)
	}
}
