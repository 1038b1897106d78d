package sqlstore_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
)

func TestLoginUser(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	eachBackend(t, sqlstore.Config{Now: func() time.Time { return now }}, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		id := sqlstore.Identity{AppID: "wxapp", OpenID: "o-1"}
		u, created, err := s.LoginUser(ctx, id)
		if err != nil || !created {
			t.Fatalf("first login: created=%v err=%v", created, err)
		}
		if len(u.ID) != 32 || u.Identity != id || !u.CreatedAt.Equal(now) || !u.UpdatedAt.Equal(now) {
			t.Fatalf("first login user = %+v", u)
		}
		id.UnionID = "union-1"
		again, created, err := s.LoginUser(ctx, id)
		if err != nil || created || again.ID != u.ID || again.UnionID != "union-1" {
			t.Fatalf("second login: %+v created=%v err=%v", again, created, err)
		}
		// A login without a UnionID keeps the one known.
		again, _, err = s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp", OpenID: "o-1"})
		if err != nil || again.UnionID != "union-1" {
			t.Fatalf("third login: %+v err=%v", again, err)
		}
		// The same OpenID under another AppID is another account.
		other, created, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxother", OpenID: "o-1"})
		if err != nil || !created || other.ID == u.ID {
			t.Fatalf("other app: %+v created=%v err=%v", other, created, err)
		}
		got, err := s.User(ctx, u.ID)
		if err != nil || got.ID != u.ID || got.OpenID != "o-1" || got.UnionID != "union-1" || got.AppID != "wxapp" {
			t.Fatalf("User = %+v, %v", got, err)
		}
		if _, err := s.User(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, scanlogin.ErrUserNotFound) {
			t.Fatalf("User(unknown) err = %v", err)
		}
		if _, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp"}); err == nil {
			t.Fatal("LoginUser with no OpenID succeeded")
		}
	})
}

// TestLoginUserConcurrent: 100 first logins of one OpenID at once make one
// user, and exactly one of them is told it created it.
func TestLoginUserConcurrent(t *testing.T) {
	eachBackend(t, sqlstore.Config{Timeout: 10 * time.Second}, func(t *testing.T, s *sqlstore.Store) {
		const n = 100
		var wg sync.WaitGroup
		ids := make([]string, n)
		created := make([]bool, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				u, c, err := s.LoginUser(t.Context(), sqlstore.Identity{AppID: "wxapp", OpenID: "o-race"})
				if err == nil {
					ids[i], created[i] = u.ID, c
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		creators := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("login %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("login %d got user %s, login 0 got %s", i, ids[i], ids[0])
			}
			if created[i] {
				creators++
			}
		}
		if creators != 1 {
			t.Fatalf("%d logins were told they created the user, want 1", creators)
		}
		c, err := s.Counts(t.Context())
		if err != nil || c.Users != 1 || c.Identities != 1 {
			t.Fatalf("Counts = %+v, %v; want one user, one identity", c, err)
		}
	})
}

func TestUpdateProfileAndPhone(t *testing.T) {
	clock := time.UnixMilli(1_700_000_000_000)
	eachBackend(t, sqlstore.Config{Now: func() time.Time { return clock }}, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		u, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp", OpenID: "o-1"})
		if err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Minute)
		got, err := s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{Nickname: ptr("小明")})
		if err != nil || got.Nickname != "小明" || got.AvatarURL != "" || !got.UpdatedAt.Equal(clock) || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Fatalf("UpdateProfile(nickname) = %+v, %v", got, err)
		}
		got, err = s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{AvatarURL: ptr("https://thirdwx.qlogo.cn/a.png")})
		if err != nil || got.Nickname != "小明" || got.AvatarURL != "https://thirdwx.qlogo.cn/a.png" {
			t.Fatalf("UpdateProfile(avatar url) = %+v, %v", got, err)
		}
		if got.Phone != "" || !got.PhoneVerifiedAt.IsZero() {
			t.Fatalf("phone before SetPhone: %+v", got)
		}
		clock = clock.Add(time.Minute)
		got, err = s.SetPhone(ctx, u.ID, "+86 13800138000")
		if err != nil || got.Phone != "+86 13800138000" || !got.PhoneVerifiedAt.Equal(clock) || got.Nickname != "小明" {
			t.Fatalf("SetPhone = %+v, %v", got, err)
		}
		got, err = s.SetPhone(ctx, u.ID, "")
		if err != nil || got.Phone != "" || !got.PhoneVerifiedAt.IsZero() {
			t.Fatalf("SetPhone(\"\") = %+v, %v", got, err)
		}
		// A clock that stands still or runs behind (another instance's):
		// every change still moves updated_at on, which orders the user
		// cache's copies.
		clock = clock.Add(-time.Second)
		for i, change := range []func() (*sqlstore.User, error){
			func() (*sqlstore.User, error) {
				return s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{Nickname: ptr("小红")})
			},
			func() (*sqlstore.User, error) { return s.SetPhone(ctx, u.ID, "+86 13900139000") },
			func() (*sqlstore.User, error) {
				return s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{Nickname: ptr("小明")})
			},
		} {
			prev := got.UpdatedAt
			if got, err = change(); err != nil || !got.UpdatedAt.After(prev) {
				t.Fatalf("change %d with the clock behind: updated_at %v after %v, %v", i, got.UpdatedAt, prev, err)
			}
		}
		missing := "0123456789abcdef0123456789abcdef"
		if _, err := s.UpdateProfile(ctx, missing, sqlstore.ProfileUpdate{Nickname: ptr("x")}); !errors.Is(err, scanlogin.ErrUserNotFound) {
			t.Fatalf("UpdateProfile(unknown) err = %v", err)
		}
		if _, err := s.SetPhone(ctx, missing, "1"); !errors.Is(err, scanlogin.ErrUserNotFound) {
			t.Fatalf("SetPhone(unknown) err = %v", err)
		}
	})
}
