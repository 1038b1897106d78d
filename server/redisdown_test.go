package server_test

import (
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestRedisDown: with Redis stopped, endpoints and waiting polls answer 503
// with Retry-After within 2 s; when Redis is back, so is the service.
func TestRedisDown(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	sc := c.create()
	tok, _ := c.login(inst, "")

	waiting := make(chan *response, 1)
	go func() {
		waiting <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=25", sc.PollToken, nil)
	}()
	waitGauge(t, inst, "1") // the poll is waiting when Redis goes
	stopped := time.Now()
	inst.Redis.Stop()

	check := func(name string, r *response, took time.Duration) {
		t.Helper()
		if r.Status != 503 || r.errCode() != "unavailable" || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %v %s", name, r.Status, r.Header, r.Body)
		}
		if took > 2*time.Second {
			t.Errorf("%s: answered after %s", name, took)
		}
	}
	r := recvWithin(t, waiting, 5*time.Second)
	check("the waiting poll", r, time.Since(stopped))

	for _, tc := range []struct{ name, method, path, token string }{
		{"create", "POST", "/api/v1/qr", ""},
		{"poll", "GET", "/api/v1/qr/" + sc.ID + "/state?since=1", sc.PollToken},
		{"scan", "POST", "/api/v1/qr/" + sc.ID + "/scan", tok},
		{"mp me", "GET", "/api/v1/mp/me", tok},
	} {
		start := time.Now()
		r := c.req(tc.method, tc.path, tc.token, nil)
		check(tc.name, r, time.Since(start))
	}
	start := time.Now()
	ready := c.req("GET", "/readyz", "", nil)
	if ready.Status != 503 || time.Since(start) > 2*time.Second {
		t.Errorf("readyz with Redis down: %d after %s", ready.Status, time.Since(start))
	}
	c.req("GET", "/healthz", "", nil).must(t, 200)

	inst.Redis.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := c.req("POST", "/api/v1/qr", "", nil)
		if r.Status == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after Redis restarted: %d %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.req("GET", "/readyz", "", nil).must(t, 200)
	// The whole flow works again (Redis came back empty: a new user).
	sc2, _ := c.confirmed(inst)
	c.req("POST", "/api/v1/qr/"+sc2.ID+"/redeem", sc2.PollToken, nil).must(t, 200)
}
