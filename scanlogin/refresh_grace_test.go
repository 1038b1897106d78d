package scanlogin

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// Two tabs (or a retry after a lost answer) refresh with the same token at
// once: every one of them gets the same successor, and the session lives
// (docs/ARCHITECTURE.md#tokens).
func TestRefreshConcurrentDuplicatesKeepSession(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	u, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-tabs"})
	s, rt, err := f.e.CreateSession(ctx, u.ID, "192.0.2.9", "Chrome")
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, got[i], errs[i] = f.e.RefreshSession(ctx, rt)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("refresh %d of %d concurrent duplicates: %v", i, n, errs[i])
		}
		if got[i] != got[0] || got[i] == rt {
			t.Fatalf("refresh %d: successor %q, want the same one as the others (%q)", i, got[i], got[0])
		}
	}
	if _, err := f.e.SessionAlive(ctx, s.ID); err != nil {
		t.Fatalf("the session died: %v", err)
	}
	// The successor works, once, like any refresh token.
	_, next, err := f.e.RefreshSession(ctx, got[0])
	if err != nil || next == got[0] {
		t.Fatalf("the shared successor does not work: %v", err)
	}
	if _, err := f.e.SessionAlive(ctx, s.ID); err != nil {
		t.Fatalf("the session died: %v", err)
	}
	// Redis never holds a successor in clear.
	for k, v := range f.rdb.HGetAll(ctx, f.e.sessKey(s.ID)).Val() {
		if v == next || v == got[0] {
			t.Fatalf("field %s holds a refresh token in clear", k)
		}
	}
}

// Within the window the rotated token answers with its successor again;
// after it, the same replay is reuse and kills the session, as it kills a
// token spent longer ago.
func TestRefreshReplayAfterWindowKillsSession(t *testing.T) {
	const window = 3 * time.Second
	f := newSceneFixture(t, Config{RefreshReuseWindow: window})
	ctx := t.Context()
	u, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-replay"})
	s, rt, err := f.e.CreateSession(ctx, u.ID, "192.0.2.9", "Chrome")
	if err != nil {
		t.Fatal(err)
	}
	_, next, err := f.e.RefreshSession(ctx, rt)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(window)
	if _, again, err := f.e.RefreshSession(ctx, rt); err != nil || again != next {
		t.Fatalf("replay at the window's end: %v (same successor: %v)", err, again == next)
	}
	f.clk.Advance(time.Millisecond)
	if _, _, err := f.e.RefreshSession(ctx, rt); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("replay after the window: %v, want ErrRefreshReused", err)
	}
	if _, err := f.e.SessionAlive(ctx, s.ID); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("the session survived a replay after the window: %v", err)
	}
	if _, _, err := f.e.RefreshSession(ctx, next); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("the successor still works after the kill: %v", err)
	}

	// A token two rotations old is reuse even inside the window: only the
	// token rotated last has a successor to give.
	s2, a, _ := f.e.CreateSession(ctx, u.ID, "192.0.2.9", "Chrome")
	_, b, _ := f.e.RefreshSession(ctx, a)
	if _, _, err := f.e.RefreshSession(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.e.RefreshSession(ctx, a); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("a token two rotations old: %v, want ErrRefreshReused", err)
	}
	if _, err := f.e.SessionAlive(ctx, s2.ID); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("session alive: %v", err)
	}

	// A negative window turns the grace off: any replay kills.
	off := newSceneFixture(t, Config{RefreshReuseWindow: -1})
	u3, _, _ := off.e.LoginUser(ctx, LoginInfo{OpenID: "oid-off"})
	_, c, _ := off.e.CreateSession(ctx, u3.ID, "192.0.2.9", "Chrome")
	if _, _, err := off.e.RefreshSession(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, _, err := off.e.RefreshSession(ctx, c); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("replay with the window off: %v", err)
	}
}
