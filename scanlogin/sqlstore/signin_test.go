package sqlstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore/sqlstoretest"
)

func TestSignIns(t *testing.T) {
	var clock time.Time
	eachBackend(t, sqlstore.Config{Now: func() time.Time { return clock }}, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		clock = time.UnixMilli(1_700_000_000_000)
		u, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp", OpenID: "o-1"})
		if err != nil {
			t.Fatal(err)
		}
		longUA := strings.Repeat("é", 400) // 800 bytes: cut, still valid UTF-8
		in := []sqlstore.SignIn{
			{UserID: u.ID, Kind: sqlstore.SignInRedeem, Client: "scene-1", SessionID: "sess-1", IP: "203.0.113.9", UserAgent: longUA},
			{UserID: u.ID, Kind: sqlstore.SignInOIDC, Client: "grafana", IP: "2001:db8::1", UserAgent: "curl/8"},
			{UserID: u.ID, Kind: sqlstore.SignInRedeem, Client: "scene-3", At: clock.Add(-time.Hour)},
		}
		for _, si := range in {
			if err := s.RecordSignIns(ctx, []sqlstore.SignIn{si})[0]; err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(time.Second)
		}
		got, err := s.SignIns(ctx, u.ID, 10)
		if err != nil || len(got) != 3 {
			t.Fatalf("SignIns = %+v, %v", got, err)
		}
		// Newest first: the OIDC one (t0+1s), the redeem (t0), the backdated one.
		if got[0].Client != "grafana" || got[0].Kind != sqlstore.SignInOIDC || got[0].IP != "2001:db8::1" ||
			!got[0].At.Equal(time.UnixMilli(1_700_000_001_000)) {
			t.Fatalf("newest = %+v", got[0])
		}
		if got[1].Client != "scene-1" || got[1].SessionID != "sess-1" || len(got[1].UserAgent) > 512 || !utf8.ValidString(got[1].UserAgent) {
			t.Fatalf("second = %+v", got[1])
		}
		if got[2].Client != "scene-3" || len(got[0].ID) != 32 {
			t.Fatalf("oldest = %+v", got[2])
		}
		if one, err := s.SignIns(ctx, u.ID, 1); err != nil || len(one) != 1 || one[0].ID != got[0].ID {
			t.Fatalf("SignIns(limit 1) = %+v, %v", one, err)
		}
		n, err := s.DeleteSignInsBefore(ctx, time.UnixMilli(1_700_000_000_000))
		if err != nil || n != 1 {
			t.Fatalf("DeleteSignInsBefore = %d, %v", n, err)
		}
		if err := s.RecordSignIns(ctx, []sqlstore.SignIn{{UserID: "0123456789abcdef0123456789abcdef", Kind: sqlstore.SignInRedeem}})[0]; !errors.Is(err, scanlogin.ErrUserNotFound) {
			t.Fatalf("RecordSignIns(unknown user) err = %v", err)
		}
		if err := s.RecordSignIns(ctx, []sqlstore.SignIn{{UserID: u.ID, Kind: "password"}})[0]; err == nil {
			t.Fatal("RecordSignIns accepted an unknown kind")
		}
	})
}

// opCounter counts the store's calls by operation (Config.Observe).
type opCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounter) observe(op string, _ time.Duration, _ error) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

// take returns the counts since the last take.
func (c *opCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// TestRecordSignInsBatch: many entries are written in one statement per
// 256; an entry the database refuses (its user is gone) or the store
// refuses (an unknown kind) fails alone, the others of its batch are
// written.
func TestRecordSignInsBatch(t *testing.T) {
	calls := &opCounter{n: map[string]int{}}
	eachBackend(t, sqlstore.Config{Observe: calls.observe}, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		var users []string
		for i := range 3 {
			u, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp", OpenID: fmt.Sprint("o-", i)})
			if err != nil {
				t.Fatal(err)
			}
			users = append(users, u.ID)
		}
		calls.take()
		const n = 600
		in := make([]sqlstore.SignIn, n)
		for i := range in {
			in[i] = sqlstore.SignIn{UserID: users[i%3], Kind: sqlstore.SignInRedeem, Client: fmt.Sprint("scene-", i),
				At: time.UnixMilli(1_700_000_000_000 + int64(i)), IP: "192.0.2.1", UserAgent: "Firefox"}
		}
		for i, err := range s.RecordSignIns(ctx, in) {
			if err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
		}
		if got := calls.take(); len(got) != 1 || got[sqlstore.OpRecordSignIns] != 3 {
			t.Fatalf("%d entries took calls %v, want 3 of %s", n, got, sqlstore.OpRecordSignIns)
		}
		c, err := s.Counts(ctx)
		if err != nil || c.SignIns != n {
			t.Fatalf("Counts = %+v, %v, want %d sign-ins", c, err, n)
		}
		latest, err := s.SignIns(ctx, users[2], 1)
		if err != nil || len(latest) != 1 || latest[0].Client != fmt.Sprint("scene-", n-1) || !latest[0].At.Equal(in[n-1].At) ||
			latest[0].IP != "192.0.2.1" || latest[0].UserAgent != "Firefox" || latest[0].Kind != sqlstore.SignInRedeem {
			t.Fatalf("latest of user 2 = %+v, %v", latest, err)
		}

		bad := in[:10]
		bad[4].UserID = "0123456789abcdef0123456789abcdef"
		bad[7].Kind = "password"
		errs := s.RecordSignIns(ctx, bad)
		for i, err := range errs {
			switch {
			case i == 4 && !errors.Is(err, scanlogin.ErrUserNotFound):
				t.Errorf("entry of an unknown user: %v", err)
			case i == 7 && err == nil:
				t.Error("an unknown kind was accepted")
			case i != 4 && i != 7 && err != nil:
				t.Errorf("entry %d, good, failed with the bad ones: %v", i, err)
			}
		}
		// The refused statement, then the 9 entries it held one by one.
		if got := calls.take(); got[sqlstore.OpRecordSignIns] != 1 || got[sqlstore.OpRecordSignIn] != 9 {
			t.Fatalf("a refused batch took calls %v", got)
		}
		if c, err := s.Counts(ctx); err != nil || c.SignIns != n+8 {
			t.Fatalf("Counts = %+v, %v, want %d sign-ins", c, err, n+8)
		}
	})
}

// TestRecordSignInsConcurrent: writers at once lose and mix up nothing.
func TestRecordSignInsConcurrent(t *testing.T) {
	eachBackend(t, sqlstore.Config{}, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		const writers, rounds, per = 8, 10, 20
		var wg sync.WaitGroup
		for w := range writers {
			u, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp", OpenID: fmt.Sprint("o-", w)})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				for r := range rounds {
					in := make([]sqlstore.SignIn, per)
					for i := range in {
						in[i] = sqlstore.SignIn{UserID: u.ID, Kind: sqlstore.SignInOIDC, Client: fmt.Sprint(w, "-", r, "-", i)}
					}
					for _, err := range s.RecordSignIns(ctx, in) {
						if err != nil {
							t.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		c, err := s.Counts(ctx)
		if err != nil || c.SignIns != writers*rounds*per {
			t.Fatalf("Counts = %+v, %v, want %d sign-ins", c, err, writers*rounds*per)
		}
	})
}

// TestRecordSignInsPostgresDown: with PostgreSQL stopped a batch fails as a
// whole in one call (ErrUnavailable, not tried again entry by entry); when
// it is back, the same store writes again.
func TestRecordSignInsPostgresDown(t *testing.T) {
	pg := sqlstoretest.Start(t)
	calls := &opCounter{n: map[string]int{}}
	s := open(t, pg.CreateDatabase(t), sqlstore.Config{Observe: calls.observe})
	ctx := t.Context()
	in := redeemsOfOneUser(t, s, 50)
	pg.Stop()
	calls.take()
	for i, err := range s.RecordSignIns(ctx, in) {
		if !errors.Is(err, scanlogin.ErrUnavailable) {
			t.Fatalf("entry %d with PostgreSQL down: %v", i, err)
		}
	}
	if got := calls.take(); len(got) != 1 || got[sqlstore.OpRecordSignIns] != 1 {
		t.Fatalf("calls with PostgreSQL down: %v, want one %s", got, sqlstore.OpRecordSignIns)
	}
	pg.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for s.RecordSignIns(ctx, in)[0] != nil {
		if time.Now().After(deadline) {
			t.Fatal("sign-ins not written after PostgreSQL came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c, err := s.Counts(ctx); err != nil || c.SignIns != int64(len(in)) {
		t.Fatalf("Counts = %+v, %v, want %d sign-ins", c, err, len(in))
	}
}

// TestRecordSignInsOverloaded: a batch whose statement waits past the
// store's timeout while the database answers other calls (here it waits for
// a lock another session holds) fails as a whole with ErrOverloaded, in one
// call, not tried again entry by entry; when the lock is gone, the same
// store writes again.
func TestRecordSignInsOverloaded(t *testing.T) {
	url := sqlstoretest.Database(t)
	calls := &opCounter{n: map[string]int{}}
	s := open(t, url, sqlstore.Config{Timeout: 300 * time.Millisecond, Observe: calls.observe})
	ctx := t.Context()
	in := redeemsOfOneUser(t, s, 50)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	lock, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(ctx) }()
	if _, err := lock.Exec(ctx, `LOCK TABLE sign_ins IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	// Other calls are answered meanwhile.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if _, err := s.User(ctx, in[0].UserID); err != nil {
				t.Errorf("User while sign_ins is locked: %v", err)
			}
		}
	})
	calls.take()
	errs := s.RecordSignIns(ctx, in)
	close(done)
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, scanlogin.ErrOverloaded) || errors.Is(err, scanlogin.ErrUnavailable) {
			t.Fatalf("entry %d with sign_ins locked: %v, want ErrOverloaded", i, err)
		}
	}
	if got := calls.take(); got[sqlstore.OpRecordSignIns] != 1 || got[sqlstore.OpRecordSignIn] != 0 {
		t.Fatalf("calls with sign_ins locked: %v, want one %s", got, sqlstore.OpRecordSignIns)
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for i, err := range s.RecordSignIns(ctx, in) {
		if err != nil {
			t.Fatalf("entry %d after the lock: %v", i, err)
		}
	}
}

// redeemsOfOneUser logs one user in and returns n redeems of theirs to
// record.
func redeemsOfOneUser(t *testing.T, s *sqlstore.Store, n int) []sqlstore.SignIn {
	t.Helper()
	u, _, err := s.LoginUser(t.Context(), sqlstore.Identity{AppID: "a", OpenID: "o"})
	if err != nil {
		t.Fatal(err)
	}
	in := make([]sqlstore.SignIn, n)
	for i := range in {
		in[i] = sqlstore.SignIn{UserID: u.ID, Kind: sqlstore.SignInRedeem}
	}
	return in
}
