package scanlogin

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

func TestUsers(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	u, created, err := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-1", SessionKey: "sk-secret-1"})
	if err != nil || !created || !validID(u.ID) || u.OpenID != "oid-1" || u.UnionID != "" {
		t.Fatalf("first login: %+v %v %v", u, created, err)
	}
	f.clk.Advance(time.Minute)
	again, created, err := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-1", UnionID: "union-1", SessionKey: "sk-secret-2"})
	if err != nil || created || again.ID != u.ID {
		t.Fatalf("second login: %+v %v %v", again, created, err)
	}
	if again.UnionID != "union-1" || !again.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("second login kept/updated wrong fields: %+v", again)
	}
	// A later login without UnionID keeps the one we know.
	third, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-1"})
	if third.UnionID != "union-1" {
		t.Fatalf("union id lost: %+v", third)
	}
	other, created, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-2"})
	if !created || other.ID == u.ID {
		t.Fatal("a second OpenID must make a second user")
	}
	if _, _, err := f.e.LoginUser(ctx, LoginInfo{}); err == nil {
		t.Fatal("empty OpenID accepted")
	}

	t.Run("session key sealed at rest and never on User", func(t *testing.T) {
		keys, err := f.rdb.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			dump, _ := f.rdb.Dump(ctx, k).Result()
			if strings.Contains(dump, "sk-secret") {
				t.Fatalf("key %s holds the session key in clear", k)
			}
		}
		// Still the last one given (the third login carried none).
		got, err := f.e.SessionKey(ctx, u.ID)
		if err != nil || got != "sk-secret-2" {
			t.Fatalf("SessionKey = %q, %v", got, err)
		}
		for i := range reflect.TypeFor[User]().NumField() {
			if name := reflect.TypeFor[User]().Field(i).Name; strings.Contains(strings.ToLower(name), "key") {
				t.Fatalf("User has field %s", name)
			}
		}
		// Sealed to this user: a ciphertext copied onto another user fails.
		sealed, _ := f.rdb.Get(ctx, f.e.sessionKeyKey(u.ID)).Result()
		f.rdb.Set(ctx, f.e.sessionKeyKey(other.ID), sealed, 0)
		if _, err := f.e.SessionKey(ctx, other.ID); err == nil {
			t.Fatal("a session key sealed for one user opened for another")
		}
		if got, err := f.e.SessionKey(ctx, newID()); got != "" || err != nil {
			t.Fatalf("unknown user: %q %v", got, err)
		}
		if _, err := f.e.SessionKey(ctx, "../x"); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("bad id: %v", err)
		}
		// It expires with the phone's login.
		if ttl := f.rdb.PTTL(ctx, f.e.sessionKeyKey(u.ID)).Val(); ttl <= 0 || ttl > 7*24*time.Hour {
			t.Fatalf("session key TTL %v", ttl)
		}
		// Another secret cannot open it.
		e2, _ := newTestEngine(t, f.srv, Config{SessionKeySecret: []byte(strings.Repeat("k", 32))}, nil)
		if _, err := e2.SessionKey(ctx, u.ID); err == nil {
			t.Fatal("wrong secret opened the session key")
		}
	})

	t.Run("profile", func(t *testing.T) {
		nick, avatar, phone := "Ada", "https://example.com/a.png", "+8613800000000"
		got, err := f.e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &nick, AvatarURL: &avatar})
		if err != nil || got.Nickname != nick || got.AvatarURL != avatar || got.HasPhone() {
			t.Fatalf("update: %+v %v", got, err)
		}
		f.clk.Advance(time.Second)
		got, err = f.e.SetPhone(ctx, u.ID, phone)
		if err != nil || got.Nickname != nick || got.Phone != phone || !got.HasPhone() || got.PhoneVerifiedAt.IsZero() {
			t.Fatalf("set phone: %+v %v", got, err)
		}
		read, err := f.e.User(ctx, u.ID)
		if err != nil || !reflect.DeepEqual(read, got) {
			t.Fatalf("User = %+v, %v; want %+v", read, err, got)
		}
		missing := newID()
		if _, err := f.e.UpdateUser(ctx, missing, ProfileUpdate{Nickname: &nick}); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("update unknown: %v", err)
		}
		if _, err := f.e.SetPhone(ctx, missing, phone); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("set phone of unknown: %v", err)
		}
		if n, _ := f.rdb.Exists(ctx, f.e.userCacheKey(missing)).Result(); n != 0 {
			t.Fatal("an update cached a user")
		}
		if _, err := f.e.User(ctx, missing); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		if _, err := f.e.User(ctx, "../x"); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("bad id: %v", err)
		}
	})

	t.Run("avatars", func(t *testing.T) {
		a1, err := f.e.PutAvatar(ctx, u.ID, "image/png", []byte("png-1"))
		if err != nil || !validID(a1.ID) || len(a1.SHA256) != 64 {
			t.Fatalf("put: %+v %v", a1, err)
		}
		got, err := f.e.Avatar(ctx, a1.ID)
		if err != nil || got.ContentType != "image/png" || string(got.Data) != "png-1" || got.SHA256 != a1.SHA256 || !got.ClaimedAt.IsZero() {
			t.Fatalf("avatar: %+v %v", got, err)
		}
		url1 := "/api/v1/avatars/" + a1.ID
		if usr, err := f.e.UpdateUser(ctx, u.ID, ProfileUpdate{AvatarURL: &url1, AvatarID: &a1.ID}); err != nil || usr.AvatarID != a1.ID {
			t.Fatalf("claim: %+v %v", usr, err)
		}
		a2, _ := f.e.PutAvatar(ctx, u.ID, "image/webp", []byte("webp-2"))
		url2 := "/api/v1/avatars/" + a2.ID
		if _, err := f.e.UpdateUser(ctx, u.ID, ProfileUpdate{AvatarURL: &url2, AvatarID: &a2.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.Avatar(ctx, a1.ID); !errors.Is(err, ErrAvatarNotFound) {
			t.Fatalf("replaced avatar still served: %v", err)
		}
		if got, _ := f.e.Avatar(ctx, a2.ID); got == nil || got.ContentType != "image/webp" {
			t.Fatalf("new avatar %+v", got)
		}
		if cached, _ := f.e.User(ctx, u.ID); cached.AvatarID != a2.ID || cached.AvatarURL != url2 {
			t.Fatalf("cache not refreshed by the claim: %+v", cached)
		}
		stranger := other.ID
		if _, err := f.e.UpdateUser(ctx, stranger, ProfileUpdate{AvatarID: &a2.ID}); !errors.Is(err, ErrAvatarNotFound) {
			t.Fatalf("claimed another user's upload: %v", err)
		}
		if _, err := f.e.PutAvatar(ctx, newID(), "image/png", []byte("x")); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("avatar for unknown user: %v", err)
		}
		if _, err := f.e.Avatar(ctx, "../x"); !errors.Is(err, ErrAvatarNotFound) {
			t.Fatalf("bad avatar id: %v", err)
		}
	})
}

// countingUsers counts the calls that reach the real store.
type countingUsers struct {
	UserStore
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingUsers) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

func (c *countingUsers) n(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *countingUsers) User(ctx context.Context, id string) (*User, error) {
	c.count("user")
	return c.UserStore.User(ctx, id)
}

// TestUserCache: a user read is served by Redis once cached (a login
// caches), a profile change is seen at once, a stale copy read before a
// change cannot overwrite it, and a Redis that lost everything costs one
// store read, never the user.
func TestUserCache(t *testing.T) {
	cu := &countingUsers{calls: map[string]int{}}
	srv := scanlogintest.Start(t)
	clk := newClock()
	cu.UserStore = testUsers(t)
	e, rdb := newTestEngine(t, srv, Config{Users: cu, Now: clk.Now}, nil)
	ctx := t.Context()
	u, _, err := e.LoginUser(ctx, LoginInfo{OpenID: "oid-cache"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, err := e.User(ctx, u.ID); err != nil || got.ID != u.ID {
			t.Fatalf("User: %+v %v", got, err)
		}
	}
	if n := cu.n("user"); n != 0 {
		t.Fatalf("cached user read the store %d times", n)
	}
	if ttl := rdb.PTTL(ctx, e.userCacheKey(u.ID)).Val(); ttl <= 0 || ttl > 7*24*time.Hour {
		t.Fatalf("cache TTL %v", ttl)
	}

	stale := *u
	time.Sleep(5 * time.Millisecond) // the store stamps updated_at in ms
	nick := "新名字"
	if _, err := e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &nick}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.User(ctx, u.ID); got.Nickname != nick {
		t.Fatalf("after a profile change the cache says %q", got.Nickname)
	}
	// A reader that read the store before the change writes its copy late.
	if err := e.cacheUser(ctx, &stale, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.User(ctx, u.ID); got.Nickname != nick {
		t.Fatalf("a stale copy overwrote the cache: %q", got.Nickname)
	}

	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := e.User(ctx, u.ID)
	if err != nil || got.ID != u.ID || got.Nickname != nick {
		t.Fatalf("after FLUSHALL: %+v %v", got, err)
	}
	if n := cu.n("user"); n != 1 {
		t.Fatalf("after FLUSHALL: %d store reads, want 1", n)
	}
	if _, err := e.User(ctx, u.ID); err != nil || cu.n("user") != 1 {
		t.Fatalf("the store's answer was not cached: %d reads, %v", cu.n("user"), err)
	}
}

// TestNicknameUTF8: a nickname of 64 Chinese characters (the server's
// limit, 192 bytes) is stored whole, and a longer one is cut on a character
// boundary, never into invalid UTF-8.
func TestNicknameUTF8(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	u, _, err := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-utf8"})
	if err != nil {
		t.Fatal(err)
	}
	nick := strings.Repeat("微信", 32)
	got, err := f.e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &nick})
	if err != nil || got.Nickname != nick {
		t.Fatalf("64-character nickname stored as %q (%d bytes), %v", got.Nickname, len(got.Nickname), err)
	}
	long := "ab" + strings.Repeat("微", 100) // 302 bytes: 256 falls mid-character
	got, err = f.e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &long})
	if err != nil || !utf8.ValidString(got.Nickname) || len(got.Nickname) != 254 {
		t.Fatalf("long nickname stored as %q (%d bytes), %v", got.Nickname, len(got.Nickname), err)
	}
}
