package sqlstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
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
			if err := s.RecordSignIn(ctx, si); err != nil {
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
		if err := s.RecordSignIn(ctx, sqlstore.SignIn{UserID: "0123456789abcdef0123456789abcdef", Kind: sqlstore.SignInRedeem}); !errors.Is(err, scanlogin.ErrUserNotFound) {
			t.Fatalf("RecordSignIn(unknown user) err = %v", err)
		}
		if err := s.RecordSignIn(ctx, sqlstore.SignIn{UserID: u.ID, Kind: "password"}); err == nil {
			t.Fatal("RecordSignIn accepted an unknown kind")
		}
	})
}
