package sqlstore_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
)

// oldUser is a user as the Redis-only version stored it (scanlogin/user.go
// and server/mp.go before the durable store): written key by key here, so
// the test keeps checking that format after the engine stops writing it.
type oldUser struct {
	id, oid, unid, nick, avatarURL, phone string
	created, updated                      int64
	avatarID, avatarType                  string
	avatar                                []byte
}

const publicURL = "https://login.example.com"

func writeOldUser(t *testing.T, rdb *redis.Client, u oldUser) {
	t.Helper()
	ctx := t.Context()
	f := map[string]any{"id": u.id, "oid": u.oid, "ua": strconv.FormatInt(u.updated, 10),
		"ca": strconv.FormatInt(u.created, 10), "sk": "c2VhbGVkIHNlc3Npb24ga2V5"}
	for k, v := range map[string]string{"unid": u.unid, "nick": u.nick, "avatar": u.avatarURL, "phone": u.phone, "avid": u.avatarID} {
		if v != "" {
			f[k] = v
		}
	}
	if err := rdb.HSet(ctx, "sl:user:{"+u.id+"}", f).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "sl:openid:{"+u.oid+"}", u.id, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if u.avatarID != "" {
		blob := append(append([]byte(u.avatarType), 0), u.avatar...)
		if err := rdb.Set(ctx, "sl:avatar:{"+u.avatarID+"}", blob, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A web session index beside the user, which is not a user.
	if err := rdb.ZAdd(ctx, "sl:user:{"+u.id+"}:sessions", redis.Z{Score: 1, Member: "s"}).Err(); err != nil {
		t.Fatal(err)
	}
}

func hexID(n int) string { return fmt.Sprintf("%032x", 0xabc000+n) }

// TestMigrateRedis fills a real Redis in the previous version's format,
// copies it twice, and checks every user arrived with its ID, profile and
// avatar, and that the second run changed nothing.
func TestMigrateRedis(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	ctx := t.Context()
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 5000)...)
	full := oldUser{id: hexID(1), oid: "o-full", unid: "u-full", nick: "小红", phone: "+86 13800138000",
		created: 1_600_000_000_000, updated: 1_600_000_500_000,
		avatarID: hexID(9001), avatarType: "image/png", avatar: png}
	full.avatarURL = publicURL + "/api/v1/avatars/" + full.avatarID
	// Uploaded an avatar, then chose WeChat's: the upload was an orphan.
	orphan := oldUser{id: hexID(2), oid: "o-orphan", nick: "B", avatarURL: "https://thirdwx.qlogo.cn/b.png",
		created: 1_600_000_000_000, updated: 1_600_000_000_001,
		avatarID: hexID(9002), avatarType: "image/jpeg", avatar: []byte("\xff\xd8\xffjpeg")}
	users := []oldUser{full, orphan}
	// Enough plain users for SCAN to take several rounds.
	for i := 3; i < 303; i++ {
		users = append(users, oldUser{id: hexID(i), oid: "o-" + strconv.Itoa(i), created: 1_650_000_000_000 + int64(i), updated: 1_650_000_000_000 + int64(i)})
	}
	for _, u := range users {
		writeOldUser(t, rdb, u)
	}
	// Incomplete: a user hash whose index never got written, and a key
	// that is no user.
	if err := rdb.HSet(ctx, "sl:user:{"+hexID(5000)+"}", "id", hexID(5000), "oid", "o-noindex").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "sl:user:{not-an-id}", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}

	eachBackend(t, sqlstore.Config{}, func(t *testing.T, s *sqlstore.Store) {
		src := sqlstore.RedisSource{Client: rdb, AppID: "wxapp"}
		c, err := s.MigrateRedis(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		want := sqlstore.MigrateCounts{Users: len(users), Avatars: 1, Skipped: 1}
		if c != want {
			t.Fatalf("first run: %+v, want %+v", c, want)
		}
		before, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range users {
			u, created, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp", OpenID: o.oid})
			if err != nil || created || u.ID != o.id {
				t.Fatalf("login of migrated %s: %+v created=%v err=%v", o.oid, u, created, err)
			}
			if u.Nickname != o.nick || u.AvatarURL != o.avatarURL || u.Phone != o.phone || u.UnionID != o.unid ||
				u.CreatedAt.UnixMilli() != o.created || u.UpdatedAt.UnixMilli() != o.updated {
				t.Fatalf("migrated %s = %+v, want %+v", o.oid, u, o)
			}
			if (o.phone != "") == u.PhoneVerifiedAt.IsZero() {
				t.Fatalf("migrated %s: phone %q verified at %v", o.oid, u.Phone, u.PhoneVerifiedAt)
			}
		}
		a, err := s.Avatar(ctx, full.avatarID)
		if err != nil || a.ContentType != "image/png" || !bytes.Equal(a.Data, png) || a.UserID != full.id || a.ClaimedAt.IsZero() {
			t.Fatalf("migrated avatar: %+v, %v", a, err)
		}
		u, err := s.User(ctx, full.id)
		if err != nil || u.AvatarID != full.avatarID {
			t.Fatalf("migrated user's avatar ID: %+v, %v", u, err)
		}
		if _, err := s.Avatar(ctx, orphan.avatarID); err == nil {
			t.Fatal("the orphaned upload was copied")
		}

		// A user changes their nickname on the new version; a second run
		// must not undo it, nor change anything else.
		if _, err := s.UpdateProfile(ctx, full.id, sqlstore.ProfileUpdate{Nickname: ptr("新名字")}); err != nil {
			t.Fatal(err)
		}
		c, err = s.MigrateRedis(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		want = sqlstore.MigrateCounts{Unchanged: len(users), Skipped: 1}
		if c != want {
			t.Fatalf("second run: %+v, want %+v", c, want)
		}
		after, err := s.Counts(ctx)
		if err != nil || after != before {
			t.Fatalf("counts after the second run %+v, before %+v (%v)", after, before, err)
		}
		if u, err := s.User(ctx, full.id); err != nil || u.Nickname != "新名字" {
			t.Fatalf("second run touched a user: %+v, %v", u, err)
		}
	})
}

// TestMigrateRedisConflict: an OpenID that logged in on the new version
// before the copy keeps its new user; the old one is counted, not merged.
func TestMigrateRedisConflict(t *testing.T) {
	rdb := scanlogintest.Start(t).Client(t)
	writeOldUser(t, rdb, oldUser{id: hexID(1), oid: "o-1", created: 1, updated: 1})
	eachBackend(t, sqlstore.Config{}, func(t *testing.T, s *sqlstore.Store) {
		u, _, err := s.LoginUser(t.Context(), sqlstore.Identity{AppID: "wxapp", OpenID: "o-1"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.MigrateRedis(t.Context(), sqlstore.RedisSource{Client: rdb, AppID: "wxapp"})
		if err != nil || c != (sqlstore.MigrateCounts{Conflicts: 1}) {
			t.Fatalf("MigrateRedis = %+v, %v", c, err)
		}
		again, _, err := s.LoginUser(t.Context(), sqlstore.Identity{AppID: "wxapp", OpenID: "o-1"})
		if err != nil || again.ID != u.ID {
			t.Fatalf("login after migration: %+v, %v", again, err)
		}
	})
}
