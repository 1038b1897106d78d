package server_test

import (
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestRedeemStoreTrouble: Redis trouble before the scene is spent is a 503
// the widget retries; trouble after it (the session cannot be written,
// even on a second try) is final, without Retry-After, and issues nothing.
func TestRedeemStoreTrouble(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	rdb := inst.Client
	ctx := t.Context()

	confirmed := func(beforeScan func(uid string)) (scene, string) {
		t.Helper()
		sc := c.create()
		tok, uid := c.login(inst, "")
		beforeScan(uid)
		c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
		c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
		return sc, uid
	}

	t.Run("user unreadable before redeem", func(t *testing.T) {
		// A wrong-type key in place of the cached user makes every read of
		// it fail like an unreachable Redis: the scan keeps no profile in
		// the scene, so the redeem must read the user, and cannot.
		var key string
		sc, _ := confirmed(func(uid string) {
			key = "sl:user:{" + uid + "}:c"
			rdb.Rename(ctx, key, key+":saved")
			rdb.Set(ctx, key, "x", time.Minute)
		})
		r := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil)
		if r.Status != 503 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("redeem with the user unreadable: %d %v %s", r.Status, r.Header, r.Body)
		}
		rdb.Del(ctx, key)
		rdb.Rename(ctx, key+":saved", key)
		// The scene was not spent: the widget's retry signs in.
		red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
		if red.str("access_token") == "" {
			t.Fatalf("retry: %s", red.Body)
		}
	})

	t.Run("session unwritable after redeem", func(t *testing.T) {
		sc, uid := confirmed(func(string) {})
		rdb.Set(ctx, "sl:user:{"+uid+"}:sessions", "x", time.Minute)
		r := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil)
		if r.Status != 500 || r.errCode() != "internal" || r.Header.Get("Retry-After") != "" || r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("redeem with the session unwritable: %d %v %s", r.Status, r.Header, r.Body)
		}
		if r.str("access_token") != "" {
			t.Fatalf("tokens on an error path: %s", r.Body)
		}
	})
}

// TestRedeemLostWrite: a Redis failover that loses the scene's "redeemed"
// write but keeps the session must not let the redeem be replayed into a
// second session (docs/ARCHITECTURE.md#storage).
func TestRedeemLostWrite(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	ctx := t.Context()
	sc, tok := c.confirmed(inst)
	key := "sl:{" + sc.ID + "}:s"
	before, err := inst.Client.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	first := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)

	inst.Client.Set(ctx, key, before, time.Minute) // the lost write
	r := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil)
	if r.Status != 409 || r.errCode() != "already_redeemed" || r.str("access_token") != "" {
		t.Fatalf("replayed redeem: %d %s", r.Status, r.Body)
	}
	list := c.req("GET", "/api/v1/mp/sessions", tok, nil).must(t, 200)
	if s, _ := list.JSON["sessions"].([]any); len(s) != 1 {
		t.Fatalf("sessions: %s", list.Body)
	}
	// The first session works on: /me, refresh, logout.
	c.req("GET", "/api/v1/me", first.str("access_token"), nil).must(t, 200)
	next := c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": first.str("refresh_token")}).must(t, 200)
	c.req("POST", "/api/v1/session/logout", next.str("access_token"), nil).must(t, 204)
}
