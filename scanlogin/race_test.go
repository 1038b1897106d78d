package scanlogin

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// TestTwoScannersRace: two phones scan the same scene at once; exactly one
// wins, the other gets ErrAlreadyScanned, 200 times over.
func TestTwoScannersRace(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	for i := range 200 {
		id, _ := f.in(StatePending)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		scenes := make([]*Scene, 2)
		start := make(chan struct{})
		for j, u := range []string{userA, userB} {
			wg.Go(func() {
				<-start
				scenes[j], errs[j] = f.e.Scan(ctx, id, u)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for j := range 2 {
			switch {
			case errs[j] == nil:
				wins++
			case !errors.Is(errs[j], ErrAlreadyScanned):
				t.Fatalf("round %d: unexpected error %v", i, errs[j])
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners, want 1 (%v)", i, wins, errs)
		}
		s, _ := f.e.Scene(ctx, id)
		winner := userA
		if errs[0] != nil {
			winner = userB
		}
		if s.ScannedBy != winner || s.Version != 2 {
			t.Fatalf("round %d: stored scanner %s v%d, winner %s", i, s.ScannedBy, s.Version, winner)
		}
	}
}

// TestConcurrentConfirms: 100 concurrent confirms by the scanner make one
// transition (one version bump, one wake-up).
func TestConcurrentConfirms(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	id, _ := f.in(StateScanned)
	s0, _ := f.e.Scene(ctx, id)
	before := f.srv.CommandCalls(ctx, t)["publish"]
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	confirmedAt := make(chan int64, 100)
	for range 100 {
		wg.Go(func() {
			s, err := f.e.Confirm(ctx, id, userA, s0.MatchCode)
			if err != nil {
				errs <- err
				return
			}
			confirmedAt <- s.ConfirmedAt.UnixNano()
		})
	}
	wg.Wait()
	close(errs)
	close(confirmedAt)
	for err := range errs {
		t.Errorf("confirm: %v", err)
	}
	first := int64(-1)
	for v := range confirmedAt {
		if first >= 0 && v != first {
			t.Errorf("confirm results disagree on ConfirmedAt")
		}
		first = v
	}
	s, _ := f.e.Scene(ctx, id)
	if s.State != StateConfirmed || s.Version != s0.Version+1 {
		t.Fatalf("after 100 confirms: %s v%d, want confirmed v%d", s.State, s.Version, s0.Version+1)
	}
	if got := f.srv.CommandCalls(ctx, t)["publish"] - before; got != 1 {
		t.Fatalf("100 confirms published %d wake-ups, want 1", got)
	}
}

// TestConcurrentRedeems: 100 concurrent redeems, exactly one success.
func TestConcurrentRedeems(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	for round := range 5 {
		id, tok := f.in(StateConfirmed)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, reused := 0, 0
		for range 100 {
			wg.Go(func() {
				s, err := f.e.Redeem(ctx, id, tok)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && s.ScannedBy == userA:
					ok++
				case errors.Is(err, ErrAlreadyRedeemed):
					reused++
				default:
					t.Errorf("redeem: %v", err)
				}
			})
		}
		wg.Wait()
		if ok != 1 || reused != 99 {
			t.Fatalf("round %d: %d successes, %d already_redeemed; want 1 and 99", round, ok, reused)
		}
	}
}

// TestConcurrentFirstLogin: two (here twenty) concurrent first logins of one
// OpenID yield one user, created exactly once.
func TestConcurrentFirstLogin(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	for round := range 20 {
		openID := fmt.Sprintf("oid-race-%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ids := map[string]bool{}
		created := 0
		for range 20 {
			wg.Go(func() {
				u, c, err := f.e.LoginUser(ctx, LoginInfo{OpenID: openID, SessionKey: "k"})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("login: %v", err)
					return
				}
				ids[u.ID] = true
				if c {
					created++
				}
				if u.OpenID != openID || u.CreatedAt.IsZero() {
					t.Errorf("incomplete user %+v", u)
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 || created != 1 {
			t.Fatalf("round %d: %d users, %d created; want 1 and 1", round, len(ids), created)
		}
	}
}

// TestCommandsPerLogin pins the Redis cost of a complete login (create, scan,
// confirm, redeem), script-internal commands included: one SET for the
// scene, the scan's read of its scanner's profile (HMGET), then per
// transition one EVALSHA running GET and SET, and PUBLISH for scan and
// confirm (nobody but the redeemer can wait on a redeem). The whole HTTP
// flow, limits and session included, is pinned by the server's
// TestRedisCommandsPerLogin.
func TestCommandsPerLogin(t *testing.T) {
	srv := scanlogintest.Start(t)
	e, _ := newTestEngine(t, srv, Config{}, func(e *Engine) { e.pingEvery = time.Hour })
	loginCommands(t, srv, e, 1, false) // loads the script (EVALSHA, NOSCRIPT, EVAL)
	total, per := loginCommands(t, srv, e, 10, false)
	want := map[string]float64{"set": 4, "evalsha": 3, "get": 3, "publish": 2, "hmget": 1}
	if total != 13 || len(per) != len(want) {
		t.Fatalf("%.1f commands per login %v, want 13 %v", total, per, want)
	}
	for k, v := range want {
		if per[k] != v {
			t.Fatalf("%s: %.1f per login, want %.0f (%v)", k, per[k], v, per)
		}
	}
}
