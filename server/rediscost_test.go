package server_test

import (
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestRedisCommandsPerLogin pins the Redis round trips and commands of one
// login over HTTP as the browser and a phone holding its mini-program token
// make it, every rate limit on: round trips as the server's client sends
// them (a command, a script or a pipeline each), commands as INFO
// commandstats counts them (commands a script runs count too);
// docs/ARCHITECTURE.md#storage itemises them:
//
//	create   the limit's script (GET and SET of its state), SET NX of the scene
//	poll 1   one script: GET the scene, INCR the poll count, PEXPIRE it (a
//	         new scene's first poll); woken by the scan, GET
//	scan     one script in the user's slot: GET the mp token, GET and SET
//	         of the user's scan limit, HMGET the profile from the user
//	         cache; the transition: GET, SET, PUBLISH
//	poll 2   the script (GET, INCR); woken by the confirm, GET
//	confirm  GET the mp token; the transition: GET, SET, PUBLISH
//	redeem   the transition: GET, SET (the scene keeps the scanner's
//	         profile: no user read); the session: ZADD NX, PEXPIRE of the
//	         index, a script: EXISTS, HSET, PEXPIRE
//
// Round trips: create 2, poll 1 2, scan 2, poll 2 2, confirm 2, redeem 2.
func TestRedisCommandsPerLogin(t *testing.T) {
	calls := &scanlogintest.RoundTrips{}
	inst := servertest.Start(t, servertest.Options{
		Limits:    app.Limits{CreatePerIP: 1000, LoginPerIP: 1000, ScanPerUser: 1000, PollPerScene: 1000},
		RedisHook: calls,
	})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "Alice")
	login := func() {
		t.Helper()
		sc := c.create()
		polls := make(chan *response, 1)
		poll := func(since int) {
			go func() {
				polls <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?wait=10&since="+strconv.Itoa(since), sc.PollToken, nil)
			}()
			waitGauge(t, inst, "1") // the poll has read and sleeps
		}
		poll(1)
		c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
		r := recvWithin(t, polls, 5*time.Second)
		if by, _ := r.JSON["scanned_by"].(map[string]any); r.str("state") != "scanned" || by["nickname"] != "Alice" {
			t.Fatalf("poll after the scan: %s", r.Body)
		}
		poll(2)
		c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
		if r := recvWithin(t, polls, 5*time.Second); r.str("state") != "confirmed" {
			t.Fatalf("poll after the confirm: %s", r.Body)
		}
		red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
		if u, _ := red.JSON["user"].(map[string]any); u["nickname"] != "Alice" {
			t.Fatalf("redeem: %s", red.Body)
		}
	}
	login() // loads the scripts (NOSCRIPT, EVAL)

	ctx := t.Context()
	const n = 3
	before := inst.Redis.CommandCalls(ctx, t)
	trips := calls.Count()
	for range n {
		login()
	}
	trips = calls.Count() - trips
	got := map[string]float64{}
	total := 0.0
	for k, v := range inst.Redis.CommandCalls(ctx, t) {
		switch k {
		case "info", "ping", "hello", "client": // not a login's work
			continue
		}
		if d := float64(v-before[k]) / n; d != 0 {
			got[k] = d
			total += d
		}
	}
	want := map[string]float64{
		"evalsha": 8, "get": 11, "set": 6, "incr": 2, "pexpire": 3, "hmget": 1,
		"publish": 2, "zadd": 1, "exists": 1, "hset": 1,
	}
	if !maps.Equal(got, want) {
		t.Fatalf("%.1f Redis commands per login %v, want 36 %v", total, got, want)
	}
	if per := float64(trips) / n; per != 12 {
		t.Fatalf("%.1f Redis round trips per login, want 12", per)
	}
}
