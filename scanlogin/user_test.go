package scanlogin

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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
	if again.UnionID != "union-1" || !again.CreatedAt.Equal(u.CreatedAt) || !again.UpdatedAt.After(u.UpdatedAt) {
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
		raw, err := f.rdb.HGetAll(ctx, f.e.userKey(u.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range raw {
			if strings.Contains(v, "sk-secret") {
				t.Fatalf("field %s holds the session key in clear", k)
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
		f.rdb.HSet(ctx, f.e.userKey(other.ID), fSessionKey, raw[fSessionKey])
		if _, err := f.e.SessionKey(ctx, other.ID); err == nil {
			t.Fatal("a session key sealed for one user opened for another")
		}
		if _, err := f.e.SessionKey(ctx, newID()); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("unknown user: %v", err)
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
		got, err = f.e.UpdateUser(ctx, u.ID, ProfileUpdate{Phone: &phone})
		if err != nil || got.Nickname != nick || got.Phone != phone || !got.HasPhone() {
			t.Fatalf("update phone: %+v %v", got, err)
		}
		read, err := f.e.User(ctx, u.ID)
		if err != nil || *read != *got {
			t.Fatalf("User = %+v, %v; want %+v", read, err, got)
		}
		missing := newID()
		if _, err := f.e.UpdateUser(ctx, missing, ProfileUpdate{Nickname: &nick}); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("update unknown: %v", err)
		}
		if n, _ := f.rdb.Exists(ctx, f.e.userKey(missing)).Result(); n != 0 {
			t.Fatal("an update created a user")
		}
		if _, err := f.e.User(ctx, missing); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
		if _, err := f.e.User(ctx, "../x"); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("bad id: %v", err)
		}
	})

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
