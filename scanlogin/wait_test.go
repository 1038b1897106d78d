package scanlogin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

type waitResult struct {
	s       *Scene
	err     error
	elapsed time.Duration
}

// goWait starts a Wait in a goroutine.
func goWait(ctx context.Context, e *Engine, id, tok string, since int64, maxWait time.Duration) <-chan waitResult {
	ch := make(chan waitResult, 1)
	start := time.Now()
	go func() {
		s, err := e.Wait(ctx, id, tok, since, maxWait)
		ch <- waitResult{s, err, time.Since(start)}
	}()
	return ch
}

// waitForWaiters blocks until n waiters are registered on e.
func waitForWaiters(t testing.TB, e *Engine, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.hub.waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d waiters registered", e.hub.waiters(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Registration precedes the first read; give the reads time to finish
	// so that waiters are really asleep.
	time.Sleep(50 * time.Millisecond)
}

func TestWaitReturnsAtOnce(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	id, tok := f.in(StateScanned)
	for _, tc := range []struct {
		name  string
		since int64
		tok   string
		want  error
	}{
		{"version differs", 1, tok, nil},
		{"no since", 0, tok, nil},
		{"wrong poll token", 2, "nope", ErrInvalidPollToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s, err := f.e.Wait(ctx, id, tc.tok, tc.since, 10*time.Second)
			if !errors.Is(err, tc.want) || time.Since(start) > time.Second {
				t.Fatalf("got %v after %v", err, time.Since(start))
			}
			if err == nil && s.Version != 2 {
				t.Fatalf("version %d", s.Version)
			}
		})
	}
	t.Run("final scene", func(t *testing.T) {
		id, tok := f.in(StateCancelled)
		start := time.Now()
		s, err := f.e.Wait(ctx, id, tok, 2, 10*time.Second)
		if err != nil || s.State != StateCancelled || time.Since(start) > time.Second {
			t.Fatalf("got %v %v after %v", s, err, time.Since(start))
		}
	})
	t.Run("maxWait with the unchanged scene", func(t *testing.T) {
		id, tok := f.in(StatePending)
		r := <-goWait(ctx, f.e, id, tok, 1, 300*time.Millisecond)
		if r.err != nil || r.s.Version != 1 || r.s.State != StatePending {
			t.Fatalf("got %+v", r)
		}
		if r.elapsed < 300*time.Millisecond || r.elapsed > 2*time.Second {
			t.Fatalf("returned after %v, want about 300ms", r.elapsed)
		}
	})
	t.Run("missing scene", func(t *testing.T) {
		if _, err := f.e.Wait(ctx, newID(), tok, 1, time.Second); !errors.Is(err, ErrSceneNotFound) {
			t.Fatal(err)
		}
	})
}

// TestWaitWokenByOtherInstance: a transition made through a second,
// independent engine (its own go-redis client) wakes a waiter at once.
func TestWaitWokenByOtherInstance(t *testing.T) {
	srv := scanlogintest.Start(t)
	a, _ := newTestEngine(t, srv, Config{}, nil)
	b, _ := newTestEngine(t, srv, Config{}, nil)
	ctx := t.Context()
	s, tok, err := a.CreateScene(ctx, NewScene{})
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []func() (*Scene, error){
		func() (*Scene, error) { return b.Scan(ctx, s.ID, userA) },
		func() (*Scene, error) { return b.Confirm(ctx, s.ID, userA, "") },
	} {
		since := int64(i + 1)
		ch := goWait(ctx, a, s.ID, tok, since, 10*time.Second)
		waitForWaiters(t, a, 1)
		t0 := time.Now()
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
		r := <-ch
		if r.err != nil || r.s.Version != since+1 {
			t.Fatalf("step %d: %+v", i, r)
		}
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Fatalf("step %d: woken %v after the transition", i, d)
		}
	}
	// A redeem publishes nothing (only the redeemer holds the poll token);
	// a waiter that exists anyway learns it at its end-of-wait re-read.
	ch := goWait(ctx, a, s.ID, tok, 3, time.Second)
	waitForWaiters(t, a, 1)
	if _, err := b.Redeem(ctx, s.ID, tok); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r.err != nil || r.s.State != StateRedeemed || r.s.Version != 4 {
		t.Fatalf("redeem: %+v", r)
	}
}

// TestWaitLostMessage: with the wake-up never published, the waiter still
// returns the change from its end-of-wait re-read.
func TestWaitLostMessage(t *testing.T) {
	srv := scanlogintest.Start(t)
	a, _ := newTestEngine(t, srv, Config{}, nil)
	mute, _ := newTestEngine(t, srv, Config{}, func(e *Engine) { e.suppressPublish = true })
	ctx := t.Context()
	s, tok, _ := a.CreateScene(ctx, NewScene{})
	ch := goWait(ctx, a, s.ID, tok, 1, time.Second)
	waitForWaiters(t, a, 1)
	before := srv.CommandCalls(ctx, t)["publish"]
	if _, err := mute.Scan(ctx, s.ID, userA); err != nil {
		t.Fatal(err)
	}
	if got := srv.CommandCalls(ctx, t)["publish"]; got != before {
		t.Fatalf("the muted engine published %d messages", got-before)
	}
	r := <-ch
	if r.err != nil || r.s.State != StateScanned || r.s.Version != 2 {
		t.Fatalf("got %+v", r)
	}
	// It was the final re-read, not a message, that found the change.
	if r.elapsed < 900*time.Millisecond || r.elapsed > 3*time.Second {
		t.Fatalf("returned after %v, want at the 1s end of wait", r.elapsed)
	}
}

// TestWaitSubscriptionKilled: CLIENT KILL TYPE pubsub drops the wake-up
// connection while waiters wait, and a transition lands in the gap, after
// the waiters' re-read on the loss and before the re-subscription, with its
// message lost: every waiter sees it after go-redis re-subscribes, long
// before its wait ends.
func TestWaitSubscriptionKilled(t *testing.T) {
	srv := scanlogintest.Start(t)
	ctx := t.Context()
	mute, _ := newTestEngine(t, srv, Config{}, func(e *Engine) { e.suppressPublish = true })
	var ids []string
	var once sync.Once
	landed := make(chan struct{})
	a, rdb := newTestEngine(t, srv, Config{}, func(e *Engine) {
		e.afterLost = func() {
			once.Do(func() {
				defer close(landed)
				time.Sleep(200 * time.Millisecond) // the waiters' re-reads on the loss are done
				for _, id := range ids {
					if _, err := mute.Scan(context.Background(), id, userA); err != nil {
						t.Error(err)
					}
				}
			})
		}
	})
	const scenes, perScene = 50, 4
	var chans []<-chan waitResult
	for range scenes {
		s, tok, _ := a.CreateScene(ctx, NewScene{})
		ids = append(ids, s.ID)
		for range perScene {
			chans = append(chans, goWait(ctx, a, s.ID, tok, 1, 8*time.Second))
		}
	}
	waitForWaiters(t, a, scenes*perScene)
	killed, err := rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
	if err != nil || killed < 2 { // both engines' subscriptions
		t.Fatalf("CLIENT KILL TYPE pubsub: %d %v", killed, err)
	}
	t0 := time.Now()
	select {
	case <-landed:
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber never noticed the kill")
	}
	if n := a.hub.waiters(); n != scenes*perScene {
		t.Fatalf("%d waiters returned before the transition landed", scenes*perScene-n)
	}
	for _, ch := range chans {
		r := <-ch
		if r.err != nil || r.s.State != StateScanned {
			t.Fatalf("waiter: %+v", r)
		}
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("waiters took %v after the kill; they waited for their 8s end instead of the re-subscription", d)
	}
	// The engine is subscribed again and wakes by message as before.
	waitSubscribed(t, a)
	s, tok, _ := a.CreateScene(ctx, NewScene{})
	ch := goWait(ctx, a, s.ID, tok, 1, 8*time.Second)
	waitForWaiters(t, a, 1)
	if _, err := a.Scan(ctx, s.ID, userA); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r.err != nil || r.elapsed > 2*time.Second {
		t.Fatalf("after re-subscription: %+v", r)
	}
}

// TestWaitRedisDown: Redis stops while 1,000 waits are pending; all return
// ErrUnavailable within 2 s; new waits fail fast; after Redis restarts the
// same engine works again.
func TestWaitRedisDown(t *testing.T) {
	srv := scanlogintest.Start(t)
	e, _ := newTestEngine(t, srv, Config{}, nil)
	ctx := t.Context()
	const scenes, perScene = 100, 10
	var chans []<-chan waitResult
	for range scenes {
		s, tok, err := e.CreateScene(ctx, NewScene{})
		if err != nil {
			t.Fatal(err)
		}
		for range perScene {
			chans = append(chans, goWait(ctx, e, s.ID, tok, 1, 20*time.Second))
		}
	}
	waitForWaiters(t, e, scenes*perScene)
	t0 := time.Now()
	srv.Stop()
	var slowest time.Duration
	for _, ch := range chans {
		r := <-ch
		if !errors.Is(r.err, ErrUnavailable) {
			t.Fatalf("wait with Redis down: %+v", r)
		}
		slowest = max(slowest, time.Since(t0))
	}
	if slowest > 2*time.Second {
		t.Fatalf("slowest wait returned %v after Redis stopped, want < 2s", slowest)
	}
	t.Logf("1000 waits failed within %v of the stop", slowest)
	time.Sleep(failFastAfter + 100*time.Millisecond)
	t1 := time.Now()
	if _, err := e.Wait(ctx, newID(), "x", 1, 10*time.Second); !errors.Is(err, ErrUnavailable) || time.Since(t1) > 250*time.Millisecond {
		t.Fatalf("fresh wait while down: %v after %v", err, time.Since(t1))
	}
	if err := e.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ping while down: %v", err)
	}

	// Every other operation fails with ErrUnavailable too, the cause wrapped.
	var wg sync.WaitGroup
	for name, op := range map[string]func() error{
		"create":  func() error { _, _, err := e.CreateScene(ctx, NewScene{}); return err },
		"scene":   func() error { _, err := e.Scene(ctx, newID()); return err },
		"scan":    func() error { _, err := e.Scan(ctx, newID(), userA); return err },
		"redeem":  func() error { _, err := e.Redeem(ctx, newID(), "t"); return err },
		"login":   func() error { _, _, err := e.LoginUser(ctx, LoginInfo{OpenID: "o", SessionKey: "k"}); return err },
		"user":    func() error { _, err := e.User(ctx, userA); return err },
		"session": func() error { _, _, err := e.CreateSession(ctx, userA, "", ""); return err },
		"alive":   func() error { _, err := e.SessionAlive(ctx, userA); return err },
		"refresh": func() error { _, _, err := e.RefreshSession(ctx, userA+".x"); return err },
		"mptoken": func() error { _, err := e.MPTokenUser(ctx, "t"); return err },
		"mpscan":  func() error { _, _, err := e.ScanWithToken(ctx, newID(), userA+".t"); return err },
	} {
		wg.Go(func() { // concurrently: each spends go-redis's retries
			t1 := time.Now()
			err := op()
			var netErr net.Error
			if !errors.Is(err, ErrUnavailable) || !errors.As(err, &netErr) {
				t.Errorf("%s with Redis down: %v (want ErrUnavailable wrapping the network error)", name, err)
			}
			// Only waits promise 2 s; the rest are bounded by the client's
			// retries and the caller's context.
			if d := time.Since(t1); d > 5*time.Second {
				t.Errorf("%s with Redis down took %v", name, d)
			}
		})
	}
	wg.Wait()

	srv.Restart()
	waitSubscribed(t, e)
	if err := e.Ping(ctx); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
	s, tok, err := e.CreateScene(ctx, NewScene{})
	if err != nil {
		t.Fatalf("create after restart: %v", err)
	}
	ch := goWait(ctx, e, s.ID, tok, 1, 10*time.Second)
	waitForWaiters(t, e, 1)
	if _, err := e.Scan(ctx, s.ID, userA); err != nil { // reloads the script (NOSCRIPT)
		t.Fatalf("scan after restart: %v", err)
	}
	if r := <-ch; r.err != nil || r.s.State != StateScanned || r.elapsed > 2*time.Second {
		t.Fatalf("wait after restart: %+v", r)
	}
}

// TestWaitExpiryWakes: a waiter is woken at the deadline with "expired",
// with no transition and no message.
func TestWaitExpiryWakes(t *testing.T) {
	srv := scanlogintest.Start(t)
	e, _ := newTestEngine(t, srv, Config{SceneTTL: 400 * time.Millisecond, ConfirmWindow: 10 * time.Second}, nil)
	ctx := t.Context()
	s, tok, _ := e.CreateScene(ctx, NewScene{})
	r := <-goWait(ctx, e, s.ID, tok, 1, 10*time.Second)
	if r.err != nil || r.s.State != StateExpired || r.s.Version != 2 {
		t.Fatalf("got %+v", r)
	}
	if late := time.Since(s.ExpiresAt); late < 0 || late > 500*time.Millisecond {
		t.Fatalf("woken %v after the deadline", late)
	}
	// The scan at 200ms grants a 10s confirm window in principle, but the
	// waiter on the scanned scene still wakes at the hard cap.
	e2, _ := newTestEngine(t, srv, Config{SceneTTL: 10 * time.Second, ConfirmWindow: 10 * time.Second, HardCap: 600 * time.Millisecond}, nil)
	s, tok, _ = e2.CreateScene(ctx, NewScene{})
	time.Sleep(200 * time.Millisecond)
	if _, err := e2.Scan(ctx, s.ID, userA); err != nil {
		t.Fatal(err)
	}
	r = <-goWait(ctx, e2, s.ID, tok, 2, 10*time.Second)
	if r.err != nil || r.s.State != StateExpired {
		t.Fatalf("got %+v", r)
	}
	if late := time.Since(s.CreatedAt.Add(600 * time.Millisecond)); late < 0 || late > 500*time.Millisecond {
		t.Fatalf("woken %v after the hard cap", late)
	}
}

// TestWaitContextCancel: a cancelled wait returns at once with the
// context's error, and ten thousand sleeping waits cancelled together all
// return, unregister and leave no goroutine behind.
//
// It is deterministic under CPU load: the waits are started in batches, and
// a batch starts only when the previous one's first reads are done (counted
// by the afterFirstRead hook), so no read ever queues behind thousands of
// others; and the cancel phase reads nothing. (It once started all of them
// at once and gave the reads 1 s, which a loaded 2-core machine overran:
// "storage unavailable" with Redis idle; see TestOverloadIsNotAnOutage.)
func TestWaitContextCancel(t *testing.T) {
	srv := scanlogintest.Start(t)
	var asleep atomic.Int64
	e, _ := newTestEngine(t, srv, Config{}, func(e *Engine) {
		e.afterFirstRead = func() { asleep.Add(1) }
	})
	s, tok, _ := e.CreateScene(t.Context(), NewScene{})

	ctx, cancel := context.WithCancel(t.Context())
	ch := goWait(ctx, e, s.ID, tok, 1, 20*time.Second)
	waitAsleep(t, &asleep, 1)
	t0 := time.Now()
	cancel()
	// Promptly: far sooner than the 20 s wait, with room for a loaded CPU.
	if r := <-ch; !errors.Is(r.err, context.Canceled) || time.Since(t0) > 2*time.Second {
		t.Fatalf("cancelled wait: %+v after %v", r, time.Since(t0))
	}

	const n, batch = 10000, 100
	ids := make([]string, 100)
	toks := make([]string, 100)
	for i := range ids {
		sc, tk, err := e.CreateScene(t.Context(), NewScene{})
		if err != nil {
			t.Fatal(err)
		}
		ids[i], toks[i] = sc.ID, tk
	}
	runtime.GC()
	baseline := runtime.NumGoroutine()
	asleep.Store(0)
	ctx, cancel = context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := e.Wait(ctx, ids[i%100], toks[i%100], 1, time.Minute)
			if ctx.Err() == nil {
				t.Errorf("wait returned before the cancel: %v", err)
			}
			errs <- err
		})
		if (i+1)%batch == 0 {
			waitAsleep(t, &asleep, int64(i+1))
			if t.Failed() {
				t.FailNow()
			}
		}
	}
	if w := e.hub.waiters(); w != n {
		t.Fatalf("%d waiters registered, want %d", w, n)
	}
	t0 = time.Now()
	cancel()
	wg.Wait()
	t.Logf("%d cancelled waits returned within %v", n, time.Since(t0))
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("wait: %v", err)
		}
	}
	if w := e.hub.waiters(); w != 0 {
		t.Fatalf("%d waiters still registered", w)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= baseline {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines %d, baseline %d\n%s", got, baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitAsleep waits until n waits have done their first read (the
// afterFirstRead hook counts them in asleep).
func waitAsleep(t testing.TB, asleep *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for asleep.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d waits past their first read", asleep.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOverloadIsNotAnOutage: when this process cannot get a call to a
// healthy Redis in time (every pooled connection busy, the call's deadline
// or the pool timeout passes), the engine says ErrOverloaded, never
// ErrUnavailable; with Redis gone it says ErrUnavailable.
func TestOverloadIsNotAnOutage(t *testing.T) {
	srv := scanlogintest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 1, PoolTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	e, err := newEngine(rdb, Config{SessionKeySecret: testSecret, Users: testUsers(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	waitSubscribed(t, e)
	ctx := t.Context()
	s, tok, err := e.CreateScene(ctx, NewScene{})
	if err != nil {
		t.Fatal(err)
	}

	// The one pooled connection is taken by a blocking command: every call
	// queues in this process, as under a load the pool cannot serve.
	held := make(chan error, 1)
	go func() { held <- rdb.BLPop(ctx, 3*time.Second, "sl:test:nothing").Err() }()
	for deadline := time.Now().Add(5 * time.Second); rdb.PoolStats().IdleConns != 0 || rdb.PoolStats().TotalConns != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("the pool connection was not taken: %+v", rdb.PoolStats())
		}
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	for name, call := range map[string]func() error{
		"wait":                   func() error { _, err := e.Wait(ctx, s.ID, tok, 1, time.Second); return err },
		"create":                 func() error { _, _, err := e.CreateScene(ctx, NewScene{}); return err },
		"scan":                   func() error { _, err := e.Scan(ctx, s.ID, userA); return err },
		"read past its deadline": func() error { _, err := e.Scene(short, s.ID); return err },
	} {
		if err := call(); !errors.Is(err, ErrOverloaded) || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with the pool exhausted and Redis healthy: %v, want ErrOverloaded", name, err)
		}
	}
	if err := <-held; !errors.Is(err, redis.Nil) {
		t.Fatalf("BLPOP: %v", err)
	}
	if _, err := e.Wait(ctx, s.ID, tok, 0, 0); err != nil {
		t.Fatalf("once the pool is free: %v", err)
	}

	srv.Stop()
	if _, err := e.Scene(ctx, s.ID); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOverloaded) {
		t.Fatalf("Redis stopped: %v, want ErrUnavailable", err)
	}
}

// TestWaitClose: Close releases every waiter promptly with its current
// state, and later waits answer at once.
func TestWaitClose(t *testing.T) {
	srv := scanlogintest.Start(t)
	e, _ := newTestEngine(t, srv, Config{}, nil)
	other, _ := newTestEngine(t, srv, Config{}, func(e *Engine) { e.suppressPublish = true })
	ctx := t.Context()
	var chans []<-chan waitResult
	var ids []string
	for range 200 {
		s, tok, _ := e.CreateScene(ctx, NewScene{})
		ids = append(ids, s.ID)
		chans = append(chans, goWait(ctx, e, s.ID, tok, 1, 30*time.Second))
	}
	waitForWaiters(t, e, 200)
	// A change nobody was told about: Close must report it.
	if _, err := other.Scan(ctx, ids[0], userA); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for i, ch := range chans {
		r := <-ch
		want := StatePending
		if i == 0 {
			want = StateScanned
		}
		if r.err != nil || r.s.State != want {
			t.Fatalf("waiter %d on close: %+v", i, r)
		}
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("Close released waiters in %v", d)
	}
	_ = e.Close() // idempotent
}

// TestConstantConnections: waiters cost no Redis connections: 2,000 waits
// leave the server's client count where one wait left it.
func TestConstantConnections(t *testing.T) {
	srv := scanlogintest.Start(t)
	e, rdb := newTestEngine(t, srv, Config{}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	clients := func() int {
		info := rdb.Info(t.Context(), "clients").Val()
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		t.Fatal("no connected_clients in INFO")
		return 0
	}
	s, tok, _ := e.CreateScene(ctx, NewScene{})
	goWait(ctx, e, s.ID, tok, 1, time.Minute)
	waitForWaiters(t, e, 1)
	one := clients()
	for i := range 2000 {
		goWait(ctx, e, s.ID, tok, 1, time.Minute)
		if (i+1)%500 == 0 {
			waitForWaiters(t, e, i+2)
		}
	}
	waitForWaiters(t, e, 2001)
	many := clients()
	// The pool may open up to its size during the first reads; it never
	// grows with the number of sleeping waiters.
	if limit := one + rdb.Options().PoolSize; many > limit {
		t.Fatalf("%d clients with 2001 waiters, %d with one (pool size %d)", many, one, rdb.Options().PoolSize)
	}
	t.Logf("connected clients: %d with 1 waiter, %d with 2001 (pool size %d)", one, many, rdb.Options().PoolSize)
}

// TestWaitTransitionBetweenReadAndSleep: a transition that lands after the
// waiter's first read and before it sleeps still wakes it at once, because
// the waiter was registered before reading.
func TestWaitTransitionBetweenReadAndSleep(t *testing.T) {
	srv := scanlogintest.Start(t)
	other, _ := newTestEngine(t, srv, Config{}, nil)
	var id string
	e, _ := newTestEngine(t, srv, Config{}, func(e *Engine) {
		e.afterFirstRead = func() {
			if _, err := other.Scan(context.Background(), id, userA); err != nil {
				t.Error(err)
			}
			time.Sleep(100 * time.Millisecond) // the wake-up has been dispatched
		}
	})
	s, tok, _ := e.CreateScene(t.Context(), NewScene{})
	id = s.ID
	r := <-goWait(t.Context(), e, s.ID, tok, 1, 5*time.Second)
	if r.err != nil || r.s.State != StateScanned {
		t.Fatalf("got %+v", r)
	}
	if r.elapsed > 2*time.Second {
		t.Fatalf("returned after %v: the wake-up sent before the sleep was lost", r.elapsed)
	}
}

// TestPollLimit: with PollsPerMinute set, a Wait's first read counts the
// poll in the same round trip (one EVALSHA, no GET of its own); the poll
// over the cap is refused with the time to wait; a wrong token and a scene
// that does not exist count nothing.
func TestPollLimit(t *testing.T) {
	f := newSceneFixture(t, Config{PollsPerMinute: 3})
	ctx := t.Context()
	id, tok := f.in(StatePending)

	f.rdb.ConfigResetStat(ctx)
	for i := range 3 {
		if s, err := f.e.Wait(ctx, id, tok, 0, 0); err != nil || s.ID != id {
			t.Fatalf("poll %d: %v %v", i+1, s, err)
		}
	}
	c := f.srv.CommandCalls(ctx, t)
	if c["evalsha"] != 3 || c["get"] != 3 || c["incr"] != 3 {
		t.Fatalf("three polls: want one script (GET, INCR) each, got %v", c)
	}
	_, err := f.e.Wait(ctx, id, tok, 0, 0)
	var pl *PollLimitError
	if !errors.Is(err, ErrPollLimited) || !errors.As(err, &pl) || pl.RetryAfter <= 0 || pl.RetryAfter > time.Minute {
		t.Fatalf("fourth poll: %v, want ErrPollLimited with a retry within the minute", err)
	}

	// A stranger's wrong tokens are refused and counted nowhere: however
	// many, each fresh (which a per-token count would let through), none is
	// a 429 and none leaves a key.
	keys := len(f.rdb.Keys(ctx, "*"+id+"*").Val())
	for i := range 20 {
		if _, err := f.e.Wait(ctx, id, fmt.Sprintf("not-the-token-%d", i), 0, 0); !errors.Is(err, ErrInvalidPollToken) {
			t.Fatalf("wrong token %d: %v", i, err)
		}
	}
	if now := len(f.rdb.Keys(ctx, "*"+id+"*").Val()); now != keys {
		t.Fatalf("wrong tokens left %d keys", now-keys)
	}
	other, otherTok := f.in(StatePending)
	if _, err := f.e.Wait(ctx, other, otherTok, 0, 0); err != nil {
		t.Fatalf("another scene's poll: %v", err)
	}

	missing := newID()
	if _, err := f.e.Wait(ctx, missing, tok, 0, 0); !errors.Is(err, ErrSceneNotFound) {
		t.Fatalf("unknown scene: %v", err)
	}
	if keys := f.rdb.Keys(ctx, "*"+missing+"*").Val(); len(keys) != 0 {
		t.Fatalf("polling an unknown scene left keys: %v", keys)
	}
}
