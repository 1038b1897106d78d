package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// TestMigrateRedis runs "scanlogin migrate-redis" as an operator would, on a
// real Redis holding users in the previous version's format (a hash per
// user, the OpenID index, avatar blobs: written key by key here), twice:
// the first run copies every user, the second changes nothing. Then the
// server, on that Redis and database, signs the old users in under their old
// IDs with their nicknames and avatars.
func TestMigrateRedis(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	ctx := t.Context()
	const n = 5
	png := append([]byte("\x89PNG\r\n\x1a\n"), "old avatar"...)
	for i := range n {
		id, oid := fmt.Sprintf("%032x", 0xfeed00+i), fmt.Sprintf("oMigrated%019d", i)
		f := map[string]any{"id": id, "oid": oid, "nick": fmt.Sprintf("老用户%d", i), "ca": "1700000000000", "ua": "1700000001000"}
		if i == 0 {
			avid := fmt.Sprintf("%032x", 0xa0a0)
			f["avid"], f["avatar"] = avid, "http://old.example/api/v1/avatars/"+avid
			rdb.Set(ctx, "sl:avatar:{"+avid+"}", append([]byte("image/png\x00"), png...), 0)
		}
		rdb.HSet(ctx, "sl:user:{"+id+"}", f)
		rdb.Set(ctx, "sl:openid:{"+oid+"}", id, 0)
	}
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "users.db")
	env := map[string]string{
		"SCANLOGIN_REDIS_URL":    rs.URL(),
		"SCANLOGIN_DATABASE_URL": dbURL,
		// The dev mode's fake WeChat, so that the server below signs them in.
		"SCANLOGIN_WECHAT_APPID": "wxdev0000scanlogin",
	}
	migrate := func() string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, []string{"scanlogin", "migrate-redis"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
			t.Fatalf("migrate-redis: %v\n%s", err, out.String())
		}
		return out.String()
	}
	first := migrate()
	for _, want := range []string{"users copied: 5\n", "avatars copied: 1\n", "already there: 0\n", "database now holds: 5 users, 5 identities, 1 avatars"} {
		if !strings.Contains(first, want) {
			t.Fatalf("first run: want %q in\n%s", want, first)
		}
	}
	second := migrate()
	for _, want := range []string{"users copied: 0\n", "avatars copied: 0\n", "already there: 5\n", "database now holds: 5 users, 5 identities, 1 avatars"} {
		if !strings.Contains(second, want) {
			t.Fatalf("second run: want %q in\n%s", want, second)
		}
	}

	// Missing settings are named.
	var out bytes.Buffer
	err := run(ctx, []string{"scanlogin", "migrate-redis"}, func(string) string { return "" }, &out, io.Discard)
	for _, name := range []string{"SCANLOGIN_REDIS_URL", "SCANLOGIN_DATABASE_URL", "SCANLOGIN_WECHAT_APPID"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("without configuration: %v, want %s named", err, name)
		}
	}

	base, _, _, _ := startRun(t, map[string]string{
		"SCANLOGIN_ADDR":         "127.0.0.1:0",
		"SCANLOGIN_REDIS_URL":    rs.URL(),
		"SCANLOGIN_DATABASE_URL": dbURL,
	})
	_, code := post(t, base+"/dev/wechat/login", "", `{"openid":"oMigrated0000000000000000000"}`)
	status, login := post(t, base+"/api/v1/mp/login", "", `{"code":"`+code["code"].(string)+`"}`)
	if status != 200 || login["is_new_user"] != false {
		t.Fatalf("login of a migrated user: %d %v", status, login)
	}
	user := login["user"].(map[string]any)
	if user["id"] != fmt.Sprintf("%032x", 0xfeed00) || user["nickname"] != "老用户0" {
		t.Fatalf("migrated user signed in as %v", user)
	}
	resp, err := http.Get(base + "/api/v1/avatars/" + fmt.Sprintf("%032x", 0xa0a0))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, png) {
		t.Fatalf("migrated avatar: %d %q", resp.StatusCode, body)
	}
}
