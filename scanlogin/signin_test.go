package scanlogin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// gatedUsers is the real store whose sign-in writes wait until open is
// called; it keeps the size of each write.
type gatedUsers struct {
	UserStore
	gate     chan struct{}
	openOnce sync.Once
	mu       sync.Mutex
	sizes    []int
}

func (g *gatedUsers) open() { g.openOnce.Do(func() { close(g.gate) }) }

func (g *gatedUsers) RecordSignIns(ctx context.Context, ins []SignIn) []error {
	<-g.gate
	g.mu.Lock()
	g.sizes = append(g.sizes, len(ins))
	g.mu.Unlock()
	return g.UserStore.RecordSignIns(ctx, ins)
}

func (g *gatedUsers) writes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

// history counts the user's entries in the store.
func (g *gatedUsers) history(t *testing.T, userID string) int {
	t.Helper()
	h, ok := g.UserStore.(interface {
		SignIns(context.Context, string, int) ([]SignIn, error)
	})
	if !ok {
		t.Fatal("the store does not list sign-ins")
	}
	got, err := h.SignIns(context.Background(), userID, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

// recordings collects what the recorder reports, entry by entry.
type recordings struct {
	mu   sync.Mutex
	errs map[string]error // by Client
}

func (r *recordings) hook(in SignIn, err error) {
	r.mu.Lock()
	r.errs[in.Client] = err
	r.mu.Unlock()
}

func (r *recordings) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

// gatedEngine is an engine on a gatedUsers store, its recorder's hook on
// rec; the gate opens at the end of the test at the latest.
func gatedEngine(t *testing.T) (*Engine, *gatedUsers, *recordings, *User) {
	t.Helper()
	g := &gatedUsers{UserStore: testUsers(t), gate: make(chan struct{})}
	rec := &recordings{errs: map[string]error{}}
	e, _ := newTestEngine(t, scanlogintest.Start(t), Config{Users: g}, func(e *Engine) { e.signIns.recorded = rec.hook })
	t.Cleanup(g.open)
	u, _, err := e.LoginUser(t.Context(), LoginInfo{OpenID: "oid-history"})
	if err != nil {
		t.Fatal(err)
	}
	return e, g, rec, u
}

// TestSignInsBatched: what queues while the store writes is written in the
// next call, up to 256 entries a call, and an entry the store refuses
// (its user is gone) fails alone.
func TestSignInsBatched(t *testing.T) {
	e, g, rec, u := gatedEngine(t)
	const n = 300
	for i := range n {
		in := SignIn{UserID: u.ID, Kind: SignInRedeem, Client: fmt.Sprint("scene-", i)}
		if i == 150 {
			in.UserID = "0123456789abcdef0123456789abcdef"
		}
		e.RecordSignIn(in)
	}
	g.open()
	deadline := time.Now().Add(10 * time.Second)
	for rec.n() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d entries reported", rec.n(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The first entry may have gone alone, before the others were queued.
	sizes, sum := g.writes(), 0
	for _, s := range sizes {
		if s > signInBatch {
			t.Fatalf("a write of %d entries", s)
		}
		sum += s
	}
	if len(sizes) > 3 || sum != n {
		t.Fatalf("%d entries written in calls of %v, want at most 3", n, sizes)
	}
	for client, err := range rec.errs {
		if (client == "scene-150") != errors.Is(err, ErrUserNotFound) || (client != "scene-150" && err != nil) {
			t.Errorf("%s: %v", client, err)
		}
	}
	if got := g.history(t, u.ID); got != n-1 {
		t.Fatalf("the history holds %d entries, want %d", got, n-1)
	}
}

// TestSignInsFlushedOnClose: Close writes what is queued before it returns.
func TestSignInsFlushedOnClose(t *testing.T) {
	e, g, rec, u := gatedEngine(t)
	const n = 500
	for i := range n {
		e.RecordSignIn(SignIn{UserID: u.ID, Kind: SignInOIDC, Client: fmt.Sprint("client-", i)})
	}
	closed := make(chan struct{})
	go func() { _ = e.Close(); close(closed) }()
	time.Sleep(50 * time.Millisecond) // Close is waiting for the recorder
	g.open()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if rec.n() != n {
		t.Fatalf("Close returned with %d of %d entries written", rec.n(), n)
	}
	if got := g.history(t, u.ID); got != n {
		t.Fatalf("the history holds %d entries, want %d", got, n)
	}
}

// TestSignInsAfterShutdown: a request still in flight when the server
// shuts down records its sign-in: after ReleaseWaiters (waiting polls
// answered, the requests finishing) through the writer, and even after
// Close, written at once rather than queued for a writer that is gone.
func TestSignInsAfterShutdown(t *testing.T) {
	e, g, rec, u := gatedEngine(t)
	g.open()
	e.ReleaseWaiters()
	e.RecordSignIn(SignIn{UserID: u.ID, Kind: SignInRedeem, Client: "in flight"})
	_ = e.Close()
	e.RecordSignIn(SignIn{UserID: u.ID, Kind: SignInOIDC, Client: "later still"})
	if rec.n() != 2 || g.history(t, u.ID) != 2 {
		t.Fatalf("%d of 2 entries written, %d in the history", rec.n(), g.history(t, u.ID))
	}
}

// TestSignInsCloseBounded: a store that never answers holds up Close for
// its bound (3 s), not forever.
func TestSignInsCloseBounded(t *testing.T) {
	e, _, _, u := gatedEngine(t)
	e.RecordSignIn(SignIn{UserID: u.ID, Kind: SignInRedeem, Client: "scene"})
	start := time.Now()
	_ = e.Close()
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Close took %v with the store hung", took)
	}
}
