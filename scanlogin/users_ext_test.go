package scanlogin_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
)

// The engine's tests run on the real store, on SQLite in a temporary
// directory: users are the store's, and the store's own tests cover
// PostgreSQL.
func init() {
	scanlogin.NewTestUsers = func(tb testing.TB) scanlogin.UserStore {
		tb.Helper()
		s, err := sqlstore.Open(tb.Context(), "sqlite://"+filepath.Join(tb.TempDir(), "users.db"), sqlstore.Config{})
		if err != nil {
			tb.Fatalf("open user store: %v", err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}
}

// TestProfileSavesAcrossSkewedClocks: two instances whose clocks differ
// (here B's runs 20 ms behind A's) save one user's profile in turn; both then
// read what the database holds, not a copy their cache kept because its
// time looked newer.
func TestProfileSavesAcrossSkewedClocks(t *testing.T) {
	rs := scanlogintest.Start(t)
	file := "sqlite://" + filepath.Join(t.TempDir(), "users.db")
	base := time.Now()
	instance := func(skew time.Duration) *scanlogin.Engine {
		now := func() time.Time { return time.Now().Add(skew) }
		s, err := sqlstore.Open(t.Context(), file, sqlstore.Config{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		e, err := scanlogin.New(rs.Client(t), scanlogin.Config{Users: s, Now: now, SessionKeySecret: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b := instance(0), instance(-20*time.Millisecond)
	ctx := t.Context()
	u, _, err := a.LoginUser(ctx, scanlogin.LoginInfo{OpenID: "oSkewedClocks" + base.Format("150405.000")})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []*scanlogin.Engine{a, b, a, b} {
		nick := fmt.Sprintf("name %d", i)
		if _, err := e.UpdateUser(ctx, u.ID, scanlogin.ProfileUpdate{Nickname: &nick}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*scanlogin.Engine{a, b} {
			if got, err := r.User(ctx, u.ID); err != nil || got.Nickname != nick {
				t.Fatalf("after save %d: read %+v %v, want %q", i, got, err, nick)
			}
		}
	}
}
