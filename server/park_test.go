package server_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestParkedPoll: a long poll that sleeps on an HTTP/1.1 connection leaves
// net/http (no goroutine of its connection, no buffers) and is answered on
// the raw connection, which then closes, with everything the middleware
// would have written and its access log line.
func TestParkedPoll(t *testing.T) {
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "Alice")

	// Many sleeping polls cost no connection goroutines: one parked wait
	// each (net/http would hold two per connection, plus the buffers).
	const n = 50
	scenes := make([]scene, n)
	for i := range scenes {
		scenes[i] = c.create()
	}
	runtime.GC()
	g0 := runtime.NumGoroutine()
	answers := make(chan *response, n)
	for _, sc := range scenes {
		go func() {
			answers <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=25", sc.PollToken, nil)
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for waitingGauge(inst) != "50" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := waitingGauge(inst); g != "50" {
		t.Fatalf("waiting polls: %s, want 50", g)
	}
	// The test holds a goroutine per request and its client a reader and a
	// writer per connection (150 in all), the server one parked wait per
	// poll (50); net/http would hold two per connection (100).
	if d := runtime.NumGoroutine() - g0; d > 4*n+n/2 {
		t.Errorf("%d more goroutines with %d sleeping polls: not parked", d, n)
	}

	start := time.Now()
	c.req("POST", "/api/v1/qr/"+scenes[0].ID+"/scan", tok, nil).must(t, 200)
	r := recvWithin(t, answers, 5*time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("woken after %s", took)
	}
	by, _ := r.JSON["scanned_by"].(map[string]any)
	if r.Status != 200 || r.str("state") != "scanned" || r.num("version") != 2 || by["nickname"] != "Alice" {
		t.Fatalf("parked answer: %d %s", r.Status, r.Body)
	}
	if r.Close {
		t.Error("the parked answer closes the connection: it should go back to net/http")
	}
	for h, want := range map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
	} {
		if got := r.Header.Get(h); got != want && !(h == "Content-Type" && len(got) > len(want) && got[:len(want)] == want) {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	id := r.Header.Get("X-Request-Id")
	if id == "" || r.Header.Get("Date") == "" {
		t.Errorf("request id %q, date %q", id, r.Header.Get("Date"))
	}
	found := false
	for _, l := range logs.JSONLines() {
		if l["msg"] == "http request" && l["request_id"] == id {
			found = l["status"] == float64(200) && l["route"] == "/api/v1/qr/:scene/state" && l["proto"] == "HTTP/1.1"
			if !found {
				t.Errorf("access log line: %v", l)
			}
		}
	}
	if !found {
		t.Error("no access log line for the parked poll")
	}

	// Shutdown answers the others with their current state and closes
	// their connections; the one given back above, idle in the client's
	// pool, does not hold it up (net/http would wait 5 s for a "new" one).
	start = time.Now()
	inst.Close()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	for range n - 1 {
		r := recvWithin(t, answers, 5*time.Second)
		if r.Status != 200 || r.str("state") != "pending" || !r.Close {
			t.Fatalf("parked poll at shutdown: %d %v %s", r.Status, r.Header, r.Body)
		}
	}
}

// TestParkedConnectionServesAgain: the connection of an answered parked
// poll goes back to net/http and carries the browser's next requests.
func TestParkedConnectionServesAgain(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "")
	sc := c.create()
	conn, err := net.Dial("tcp", strings.TrimPrefix(inst.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	poll := func(since, wait int) *http.Response {
		t.Helper()
		fmt.Fprintf(conn, "GET /api/v1/qr/%s/state?since=%d&wait=%d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", sc.ID, since, wait, sc.PollToken)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("poll since=%d: %v", since, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("poll since=%d: %d close=%v %s", since, resp.StatusCode, resp.Close, body)
		}
		return resp
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
	}()
	poll(1, 25) // parked, then woken by the scan
	go func() {
		time.Sleep(200 * time.Millisecond)
		c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
	}()
	poll(2, 25) // parked again, on the connection given back
	poll(3, 0)  // answered at once, kept alive as usual
}

// TestParkedPollErrors: a parked poll that cannot read its scene any more
// answers in the SPEC's error shape, with Retry-After when Redis is down.
func TestParkedPollErrors(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	sc := c.create()
	answer := make(chan *response, 1)
	go func() {
		answer <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=25", sc.PollToken, nil)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for waitingGauge(inst) != "1" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	inst.Redis.Stop()
	r := recvWithin(t, answer, 5*time.Second)
	if r.Status != http.StatusServiceUnavailable || r.errCode() != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("parked poll with Redis down: %d %v %s", r.Status, r.Header, r.Body)
	}
	if g := waitingGauge(inst); g != "0" {
		t.Errorf("waiting polls after the answer: %s", g)
	}
}
