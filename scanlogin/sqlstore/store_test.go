package sqlstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore/sqlstoretest"
)

func TestOpenURLs(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"no scheme", "/tmp/x.db"},
		{"mysql", "mysql://u@h/db"},
		{"empty sqlite", "sqlite://"},
		{"sqlite with query", "sqlite:///tmp/x.db?mode=memory"},
		{"bad postgres", "postgres://%zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlstore.Open(t.Context(), tc.url, sqlstore.Config{})
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if errors.Is(err, scanlogin.ErrUnavailable) {
				t.Fatalf("Open(%q): a bad URL is not an outage: %v", tc.url, err)
			}
		})
	}
}

// TestOpenSQLiteRelative: sqlite://dir/file.db is relative to the working
// directory, and the directory is created.
func TestOpenSQLiteRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	s := open(t, "sqlite://data/scanlogin.db", sqlstore.Config{})
	if s.Dialect() != sqlstore.SQLite {
		t.Fatalf("Dialect = %q", s.Dialect())
	}
	if _, err := os.Stat(filepath.Join("data", "scanlogin.db")); err != nil {
		t.Fatal(err)
	}
}

// TestOpenMigratesOnce: reopening applies nothing twice and keeps the data;
// on PostgreSQL several instances opening one fresh database at once take
// turns on the migration lock.
func TestOpenMigratesOnce(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			n := 1
			if b.name == "postgres" {
				n = 3
			}
			var wg sync.WaitGroup
			stores := make([]*sqlstore.Store, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { stores[i], errs[i] = sqlstore.Open(t.Context(), url, sqlstore.Config{}) })
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("Open %d: %v", i, errs[i])
				}
				t.Cleanup(func() { _ = stores[i].Close() })
			}
			u, _, err := stores[0].LoginUser(t.Context(), sqlstore.Identity{AppID: "a", OpenID: "o"})
			if err != nil {
				t.Fatal(err)
			}
			again := open(t, url, sqlstore.Config{})
			if got, err := again.User(t.Context(), u.ID); err != nil || got.OpenID != "o" {
				t.Fatalf("after reopening: %+v, %v", got, err)
			}
		})
	}
}

type observation struct {
	op  string
	d   time.Duration
	err error
}

// TestObserveAndStats: every call is reported with its name, duration and
// error, and the pool reports its connections.
func TestObserveAndStats(t *testing.T) {
	var mu sync.Mutex
	var seen []observation
	cfg := sqlstore.Config{Observe: func(op string, d time.Duration, err error) {
		mu.Lock()
		seen = append(seen, observation{op, d, err})
		mu.Unlock()
	}}
	eachBackend(t, cfg, func(t *testing.T, s *sqlstore.Store) {
		mu.Lock()
		seen = nil
		mu.Unlock()
		ctx := t.Context()
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		u, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "a", OpenID: "o"})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.User(ctx, "0123456789abcdef0123456789abcdef")
		mu.Lock()
		got := append([]observation(nil), seen...)
		mu.Unlock()
		if len(got) != 3 || got[0].op != sqlstore.OpPing || got[1].op != sqlstore.OpLoginUser || got[2].op != sqlstore.OpUser {
			t.Fatalf("observations = %+v", got)
		}
		if got[1].err != nil || got[1].d <= 0 || !errors.Is(got[2].err, scanlogin.ErrUserNotFound) {
			t.Fatalf("observations = %+v", got)
		}
		st := s.Stats()
		if st.Open < 1 || st.Idle < 1 || st.InUse != 0 || st.MaxOpen < 2 {
			t.Fatalf("Stats = %+v", st)
		}
		_ = u
	})
}

// TestPostgresDown: with PostgreSQL stopped, calls fail within 2 s with
// ErrUnavailable; when it is back, the same store works again.
func TestPostgresDown(t *testing.T) {
	pg := sqlstoretest.Start(t)
	url := pg.CreateDatabase(t)
	s := open(t, url, sqlstore.Config{})
	ctx := t.Context()
	u, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "a", OpenID: "o"})
	if err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	for _, call := range []struct {
		name string
		f    func() error
	}{
		{"User", func() error { _, err := s.User(ctx, u.ID); return err }},
		{"LoginUser", func() error { _, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "a", OpenID: "o2"}); return err }},
		{"UpdateProfile", func() error {
			_, err := s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{Nickname: ptr("x")})
			return err
		}},
		{"Ping", func() error { return s.Ping(ctx) }},
	} {
		start := time.Now()
		err := call.f()
		took := time.Since(start)
		t.Logf("%s with PostgreSQL down: %s: %v", call.name, took, err)
		if took > 2*time.Second {
			t.Errorf("%s with PostgreSQL down took %s", call.name, took)
		}
		if !errors.Is(err, scanlogin.ErrUnavailable) || errors.Is(err, scanlogin.ErrOverloaded) {
			t.Errorf("%s with PostgreSQL down: err = %v, want ErrUnavailable", call.name, err)
		}
	}
	// Opening a store fails as fast.
	start := time.Now()
	if _, err := sqlstore.Open(ctx, url, sqlstore.Config{}); !errors.Is(err, scanlogin.ErrUnavailable) || time.Since(start) > 2*time.Second {
		t.Errorf("Open with PostgreSQL down: %s, err = %v", time.Since(start), err)
	}
	pg.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.User(ctx, u.ID)
		if err == nil {
			if got.ID != u.ID {
				t.Fatalf("after restart: %+v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after PostgreSQL came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, created, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "a", OpenID: "o2"}); err != nil || !created {
		t.Fatalf("login after restart: created=%v err=%v", created, err)
	}
}

// TestPostgresHung: a PostgreSQL that stops answering (a hung host) fails
// calls at the store's timeout with ErrUnavailable, not ErrOverloaded:
// nothing was answered while they waited (Store.fail). The store recovers
// when it answers again.
func TestPostgresHung(t *testing.T) {
	pg := sqlstoretest.Start(t)
	s := open(t, pg.CreateDatabase(t), sqlstore.Config{Timeout: time.Second})
	ctx := t.Context()
	u, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "a", OpenID: "o"})
	if err != nil {
		t.Fatal(err)
	}
	pg.Pause()
	t.Cleanup(pg.Resume)
	// Concurrent calls: the ones holding a connection and the ones waiting
	// for the pool, or dialling, all give up at the timeout.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			start := time.Now()
			var err error
			if i%2 == 0 {
				_, err = s.User(ctx, u.ID)
			} else {
				_, _, err = s.LoginUser(ctx, sqlstore.Identity{AppID: "a", OpenID: "new"})
			}
			took := time.Since(start)
			t.Logf("call %d with PostgreSQL hung: %s", i, took)
			if took > 2*time.Second || !errors.Is(err, scanlogin.ErrUnavailable) || errors.Is(err, scanlogin.ErrOverloaded) {
				t.Errorf("call %d with PostgreSQL hung: %s, err = %v", i, took, err)
			}
		})
	}
	wg.Wait()
	pg.Resume()
	resumed := time.Now()
	deadline := resumed.Add(5 * time.Second)
	for {
		_, err := s.User(ctx, u.ID)
		if err == nil {
			t.Logf("recovered %s after PostgreSQL resumed", time.Since(resumed))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after PostgreSQL answered again: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOverloaded: a healthy database that gets more calls at once than one
// connection serves within the store's timeout fails the calls that waited
// too long with ErrOverloaded, never ErrUnavailable, since it answered
// other calls meanwhile (Store.fail, docs/ARCHITECTURE.md#the-database).
// Should no call fail, the round is run again with twice the calls.
func TestOverloaded(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			u, _, err := open(t, url, sqlstore.Config{}).LoginUser(t.Context(), sqlstore.Identity{AppID: "a", OpenID: "o"})
			if err != nil {
				t.Fatal(err)
			}
			s := open(t, url, sqlstore.Config{MaxConns: 1, Timeout: overloadTimeout})
			ctx := t.Context()
			for n := 512; ; n *= 2 {
				// The connection is open before the calls start.
				if err := s.Ping(ctx); err != nil {
					t.Fatalf("Ping: %v", err)
				}
				errs := make([]error, n)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						<-start
						var got *sqlstore.User
						got, errs[i] = s.User(ctx, u.ID)
						if errs[i] == nil && got.ID != u.ID {
							t.Errorf("User = %+v", got)
						}
					})
				}
				close(start)
				wg.Wait()
				var ok, overloaded, other int
				for i, err := range errs {
					switch {
					case err == nil:
						ok++
					case errors.Is(err, scanlogin.ErrOverloaded) && !errors.Is(err, scanlogin.ErrUnavailable):
						overloaded++
					default:
						if other++; other <= 5 {
							t.Errorf("call %d of %d: %v, want ErrOverloaded", i, n, err)
						}
					}
				}
				t.Logf("%d calls at once, one connection, timeout %s: %d answered, %d overloaded, %d otherwise", n, overloadTimeout, ok, overloaded, other)
				if overloaded > 0 || t.Failed() {
					return
				}
				if n >= 16384 {
					t.Fatalf("no call of %d at once waited past the %s timeout", n, overloadTimeout)
				}
			}
		})
	}
}

// overloadTimeout is the store's timeout in TestOverloaded: short, so that
// calls queued for the connection run out of it, and long enough that the
// database answers some call within it, and a connection cut by it is
// opened again within it, on a busy machine under the race detector (5 ms
// was not enough there even to connect).
const overloadTimeout = 100 * time.Millisecond
