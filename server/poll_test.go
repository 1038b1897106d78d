package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// waitingGauge reads scanlogin_waiting_polls from the instance's /metrics.
func waitingGauge(in *servertest.Instance) string {
	return metric(in, "scanlogin_waiting_polls ")
}

// metric is the value of the first /metrics line that starts with prefix.
func metric(in *servertest.Instance, prefix string) string {
	rec := httptest.NewRecorder()
	in.Server.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// waitGauge waits until want polls are waiting.
func waitGauge(t *testing.T, in *servertest.Instance, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); waitingGauge(in) != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting polls: %s, want %s", waitingGauge(in), want)
		}
	}
}

// TestLongPoll: many polls wait at once and are counted; a transition wakes
// its poll at once with the news, the headers every response carries
// (Cache-Control: no-store for live state) and its access log line.
func TestLongPoll(t *testing.T) {
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "Alice")

	const n = 50
	scenes := make([]scene, n)
	for i := range scenes {
		scenes[i] = c.create()
	}
	answers := make(chan *response, n)
	for _, sc := range scenes {
		go func() {
			answers <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=25", sc.PollToken, nil)
		}()
	}
	waitGauge(t, inst, "50")

	start := time.Now()
	c.req("POST", "/api/v1/qr/"+scenes[0].ID+"/scan", tok, nil).must(t, 200)
	r := recvWithin(t, answers, 5*time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("woken after %s", took)
	}
	by, _ := r.JSON["scanned_by"].(map[string]any)
	if r.Status != 200 || r.str("state") != "scanned" || r.num("version") != 2 || by["nickname"] != "Alice" {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	for h, want := range map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := r.Header.Get(h); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	id := r.Header.Get("X-Request-Id")
	found := false
	for _, l := range logs.JSONLines() {
		if l["msg"] == "http request" && l["request_id"] == id && id != "" {
			found = l["status"] == float64(200) && l["route"] == "/api/v1/qr/:scene/state" && l["duration"].(float64) > 0
			if !found {
				t.Errorf("access log line: %v", l)
			}
		}
	}
	if !found {
		t.Errorf("no access log line with request id %q", id)
	}
	waitGauge(t, inst, "49") // shutdown answers the others: TestShutdownAnswersPolls
}

// TestWaitingPollErrors: a waiting poll that cannot read its scene any more
// answers in the error shape, with Retry-After when Redis is down,
// and is no longer counted as waiting.
func TestWaitingPollErrors(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	sc := c.create()
	answer := make(chan *response, 1)
	go func() {
		answer <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=25", sc.PollToken, nil)
	}()
	waitGauge(t, inst, "1")
	inst.Redis.Stop()
	r := recvWithin(t, answer, 5*time.Second)
	if r.Status != http.StatusServiceUnavailable || r.errCode() != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("waiting poll with Redis down: %d %v %s", r.Status, r.Header, r.Body)
	}
	if g := waitingGauge(inst); g != "0" {
		t.Errorf("waiting polls after the answer: %s", g)
	}
}

// TestOverloadedIsNotUnavailable: when this instance cannot get its calls
// to a healthy Redis in time (here: a pool of one connection, held), it
// answers 503 "overloaded" with Retry-After and counts it in
// scanlogin_overloaded_total, and /readyz says so: it never reports the
// healthy store as down ("unavailable").
func TestOverloadedIsNotUnavailable(t *testing.T) {
	rs := scanlogintest.Start(t)
	inst := servertest.Start(t, servertest.Options{RedisURL: rs.URL() + "?pool_size=1&pool_timeout=200ms"})
	c := newClient(t, inst)
	sc := c.create()

	held := make(chan error, 1)
	go func() { held <- inst.Client.BLPop(t.Context(), 3*time.Second, "sl:test:nothing").Err() }()
	for deadline := time.Now().Add(5 * time.Second); inst.Client.PoolStats().IdleConns != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pool connection was not taken: %+v", inst.Client.PoolStats())
		}
	}
	for _, tc := range []struct{ name, method, path, token string }{
		{"poll", "GET", "/api/v1/qr/" + sc.ID + "/state?since=1&wait=5", sc.PollToken},
		{"create (rate limiter, then engine)", "POST", "/api/v1/qr", ""},
	} {
		r := c.req(tc.method, tc.path, tc.token, nil)
		if r.Status != http.StatusServiceUnavailable || r.errCode() != "overloaded" || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the pool exhausted: %d %v %s", tc.name, r.Status, r.Header, r.Body)
		}
	}
	if ready := c.req("GET", "/readyz", "", nil); ready.Status != 503 || ready.str("status") != "overloaded" {
		t.Errorf("readyz while overloaded: %d %s", ready.Status, ready.Body)
	}
	if got := metric(inst, `scanlogin_overloaded_total{route="/api/v1/qr/:scene/state"} `); got != "1" {
		t.Errorf("scanlogin_overloaded_total for the poll: %q, want 1", got)
	}
	<-held
	c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=0", sc.PollToken, nil).must(t, 200)
}
