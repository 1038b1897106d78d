package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFlagsRefuseWhatIsNotLocalOrBounded(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote target", []string{"-browser-targets", "http://10.0.0.5:8080"}, "not on loopback"},
		{"public target", []string{"-browser-targets", "http://example.com"}, "not on loopback"},
		{"remote phone target", []string{"-browser-targets", "http://127.0.0.1:1", "-phone-targets", "http://192.168.1.2:80"}, "not on loopback"},
		{"too many browsers", []string{"-browsers", "50000"}, "-browsers"},
		{"unbounded duration", []string{"-duration", "2h"}, "-duration"},
		{"bad mode", []string{"-mode", "websocket"}, "-mode"},
		{"oidc with a fault", []string{"-mode", "oidc", "-fault", "pubsub-kill"}, "-mode oidc"},
		{"profile needs own servers", []string{"-browser-targets", "http://127.0.0.1:1", "-profile", "/tmp/p"}, "-profile"},
		{"bad log level", []string{"-log-level", "loud"}, "-log-level"},
		{"fault needs own servers", []string{"-browser-targets", "http://127.0.0.1:1", "-fault", "sigterm"}, "needs the servers started here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parseFlags(%v) = %v, want an error about %q", tt.args, err, tt.want)
			}
		})
	}
	c, err := parseFlags([]string{"-browser-targets", "http://127.0.0.1:8080/,http://[::1]:8081"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.phoneTargets) != 2 || c.phoneTargets[0] != "http://127.0.0.1:8080" {
		t.Fatalf("phone targets default to browser targets, trimmed: %v", c.phoneTargets)
	}
}

func TestRedisCPUSeconds(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.500000\r\nused_cpu_sys_children:9.000000\r\n"
	if got := redisCPUSeconds(info); got != 3.75 {
		t.Fatalf("redisCPUSeconds = %v, want 3.75 (children not counted)", got)
	}
	if got := redisCPUSeconds("# Commandstats\r\ncmdstat_get:calls=1\r\n"); got != -1 {
		t.Fatalf("redisCPUSeconds without a CPU section = %v, want -1", got)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 1000; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := percentiles(ds)
	if l.N != 1000 || l.P50 != 500 || l.P99 != 990 || l.Max != 1000 {
		t.Fatalf("percentiles = %+v", l)
	}
	if (percentiles(nil) != latency{}) {
		t.Fatal("percentiles of nothing should be zero")
	}
}

// A short real run: loadgen starts its own Redis and two servers, browsers
// on one and phones on the other, and every login confirmed is delivered.
func TestShortRunAgainstRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and two servers")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not found and CI is set")
		}
		t.Skip("redis-server not found")
	}
	bin := filepath.Join(t.TempDir(), "scanlogin")
	build := exec.Command("go", "build", "-o", bin, "./cmd/scanlogin")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		// phone requests per login: scan and confirm with a kept token;
		// code, login, scan and confirm with -relogin.
		phoneReqs float64
	}{
		{"kept tokens", nil, 2},
		{"relogin", []string{"-relogin"}, 4},
		{"h2c", []string{"-h2c", "-phones-h2c"}, 2},
		// An OpenID Connect sign-in around each login: the client's code
		// exchange is counted beside the phone's scan and confirm.
		{"oidc", []string{"-mode", "oidc"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shortRun(t, bin, tc.args, tc.phoneReqs)
		})
	}
	t.Run("compare", func(t *testing.T) { compareRun(t, bin) })
	t.Run("overload", func(t *testing.T) { overloadRun(t, bin) })
	t.Run("profile", func(t *testing.T) {
		dir := t.TempDir()
		shortRun(t, bin, []string{"-profile", dir}, 2)
		for _, f := range []string{"server-0.cpu.pprof", "server-1.cpu.pprof", "server-0.allocs.pprof", "server-1.allocs.pprof"} {
			if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
				t.Errorf("profile %s: %v", f, err)
			}
		}
	})
}

// compareRun: -mode compare runs both modes at the same load and reports
// each cost of the short-poll baseline over the long poll's.
func compareRun(t *testing.T, bin string) {
	var c comparison
	stderr, b := runJSON(t, &c, "-server-bin", bin, "-mode", "compare", "-browsers", "40", "-phones", "200", "-rate", "10", "-warmup", "1s", "-duration", "4s", "-wait", "3")
	if c.LongPoll == nil || c.ShortPoll == nil || c.LongPoll.Mode != "longpoll" || c.ShortPoll.Mode != "shortpoll" {
		t.Fatalf("want both runs: %s", b)
	}
	for _, s := range []*summary{c.LongPoll, c.ShortPoll} {
		if s.Logins < 10 || s.LostLogins != 0 || len(s.Errors) != 0 {
			t.Errorf("%s: %d logins, %d lost, errors %v", s.Mode, s.Logins, s.LostLogins, s.Errors)
		}
	}
	// A 1 s poll finds a change half a second late on average; a long
	// poll within milliseconds.
	if c.Ratios.LatencyP50 < 10 {
		t.Errorf("p50 ratio %.1f: long %v ms, short %v ms", c.Ratios.LatencyP50, c.LongPoll.Latency.P50, c.ShortPoll.Latency.P50)
	}
	if c.Ratios.BrowserRequestsPerLogin <= 0 || c.Ratios.RedisCommandsPerLogin <= 0 || c.Ratios.ServerCPUPerLogin <= 0 {
		t.Errorf("ratios not computed: %+v", c.Ratios)
	}
	if !strings.Contains(stderr, "browser requests") {
		t.Errorf("no comparison table:\n%s", stderr)
	}
}

// runJSON runs loadgen with args and -json, decodes the summary into v, and
// returns the progress output and the JSON.
func runJSON(t *testing.T, v any, args ...string) (string, []byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "summary.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if code := run(ctx, append(args, "-json", out), &stdout, &stderr); code != 0 {
		t.Fatalf("run exited %d\n%s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
	return stderr.String(), b
}

func shortRun(t *testing.T, bin string, extra []string, phoneReqs float64) {
	var s summary
	stderr, _ := runJSON(t, &s, append([]string{"-server-bin", bin, "-browsers", "40", "-phones", "200", "-rate", "20", "-warmup", "1s", "-duration", "4s", "-wait", "3"}, extra...)...)
	if s.Logins < 20 {
		t.Errorf("only %d logins in a 4 s window at 20/s\n%s", s.Logins, stderr)
	}
	if s.LostLogins != 0 {
		t.Errorf("%d confirmed logins never reached their browser", s.LostLogins)
	}
	for kind, n := range s.Errors {
		t.Errorf("error %q x%d", kind, n)
	}
	if s.Latency.N == 0 || s.Latency.P50 <= 0 {
		t.Errorf("no delivery latency measured: %+v", s.Latency)
	}
	if s.Mode == "oidc" && (s.OIDCLatency == nil || s.OIDCLatency.N == 0 || s.OIDCLatency.P50 < s.Latency.P50) {
		t.Errorf("no OIDC confirm -> tokens latency: %+v", s.OIDCLatency)
	}
	if s.RedisCmdsPerLogin <= 0 || s.CPUPerLoginMs <= 0 || len(s.PeakRSSMB) != 2 {
		t.Errorf("costs not measured: redis %v cpu %v rss %v", s.RedisCmdsPerLogin, s.CPUPerLoginMs, s.PeakRSSMB)
	}
	if s.RedisCPUPerLoginMs == nil || *s.RedisCPUPerLoginMs <= 0 || s.LoadgenCPUPerLoginMs <= 0 {
		t.Errorf("the rest of the machine not measured: redis %v loadgen %v", s.RedisCPUPerLoginMs, s.LoadgenCPUPerLoginMs)
	}
	// The database as deployed: its CPU counted, at most one write of the
	// sign-in history per login (two with OpenID Connect: the redeem and
	// the client's; fewer when several share a write), nothing written
	// entry by entry, and no user read (the poll and redeem paths use the
	// cache).
	if s.Database == "postgres" {
		if s.DBCPUPerLoginMs == nil || *s.DBCPUPerLoginMs <= 0 {
			t.Errorf("database CPU not measured: %v", s.DBCPUPerLoginMs)
		}
		want := 1.0
		if s.Mode == "oidc" {
			want = 2
		}
		calls := s.DBCallsByOpPerLogin
		if n := calls["record_sign_ins"]; n <= 0 || n > want*1.2 || calls["record_sign_in"] != 0 || calls["user"] != 0 {
			t.Errorf("database calls per login %v, want record_sign_ins up to %v and no user read", calls, want)
		}
	}
	// Phones that start in the window and finish after it blur the ratio a
	// little; a kept token must still save the code and the login.
	if s.PhoneReqsPerLog < phoneReqs*0.8 || s.PhoneReqsPerLog > phoneReqs*1.2 {
		t.Errorf("phone requests per login %.2f, want about %v", s.PhoneReqsPerLog, phoneReqs)
	}
	if !strings.Contains(stderr, "measuring") {
		t.Error("no progress line")
	}
	for _, kind := range []string{"create", "poll", "redeem", "scan", "confirm"} {
		if k := s.ByKind[kind]; k.OK == 0 || k.Failed != 0 || k.P50 <= 0 {
			t.Errorf("requests %s: %+v", kind, k)
		}
	}
	if s.ScannedInWindow == 0 || s.LostAfterScan != 0 {
		t.Errorf("%d logins scanned in the window, %d of them never redeemed", s.ScannedInWindow, s.LostAfterScan)
	}
}

// overloadRun: servers with one slot each (long polls take none), where new
// work does not wait for it, refuse a browser's creation whenever another
// request is at work (503 overloaded with Retry-After; at 400 logins/s a
// good share), which loadgen counts as shed, not as errors, as the servers
// do; every login under way still finishes.
func overloadRun(t *testing.T, bin string) {
	var s summary
	stderr, _ := runJSON(t, &s, "-server-bin", bin, "-admission", "limit=1,low_wait=1ns", "-browsers", "200", "-phones", "400", "-rate", "400", "-warmup", "1s", "-duration", "4s", "-wait", "3")
	if c := s.ByKind["create"]; c.Shed == 0 || c.OK == 0 {
		t.Errorf("creation: %+v, want some shed and some made\n%s", c, stderr)
	}
	if s.ServerShed["low queue"]+s.ServerShed["low timeout"] == 0 {
		t.Errorf("the servers report no new work shed: %v", s.ServerShed)
	}
	for kind, n := range s.Errors {
		t.Errorf("error %q x%d", kind, n)
	}
	for _, kind := range []string{"redeem", "scan", "confirm"} {
		if k := s.ByKind[kind]; k.Failed != 0 {
			t.Errorf("requests %s: %+v", kind, k)
		}
	}
	if s.LostLogins != 0 || s.LostAfterScan != 0 || s.Logins == 0 {
		t.Errorf("%d logins, %d lost after confirm, %d after scan", s.Logins, s.LostLogins, s.LostAfterScan)
	}
	if !strings.Contains(stderr, "shed") {
		t.Errorf("no table by kind:\n%s", stderr)
	}
}

// An instance that exits in the window (the sigterm fault) has no CPU
// reading at the end: it is reported unknown, not as a negative share.
func TestSummaryWithAnInstanceGone(t *testing.T) {
	l := &load{cfg: &config{mode: "longpoll"}, st: newStats()}
	l.st.logins.Store(1000)
	t0 := time.Now()
	before := snapshot{at: t0, cpu: []float64{1, 2}, redisCPU: 5, selfCPU: 1}
	after := snapshot{at: t0.Add(10 * time.Second), cpu: []float64{3, -1}, redisCPU: 6, selfCPU: 1.5}
	s := l.summarize(before, after, nil, nil)
	if !s.CPUPartial || len(s.CPUByInstanceS) != 2 || s.CPUByInstanceS[0] != 2 || s.CPUByInstanceS[1] != -1 {
		t.Fatalf("by instance %v, partial %v", s.CPUByInstanceS, s.CPUPartial)
	}
	if s.CPUPerLoginMs != 2 || s.RedisCPUPerLoginMs == nil || *s.RedisCPUPerLoginMs != 1 || s.LoadgenCPUPerLoginMs != 0.5 {
		t.Fatalf("per login: servers %v redis %v loadgen %v", s.CPUPerLoginMs, s.RedisCPUPerLoginMs, s.LoadgenCPUPerLoginMs)
	}
}

func TestRequestKindsAndRefusals(t *testing.T) {
	for url, want := range map[string]string{
		"POST http://127.0.0.1:1/api/v1/qr":                         "create",
		"GET http://127.0.0.1:1/api/v1/qr/ab/state?since=1&wait=25": "poll",
		"POST http://127.0.0.1:1/api/v1/qr/ab/redeem":               "redeem",
		"POST http://127.0.0.1:1/api/v1/qr/ab/scan":                 "scan",
		"POST http://127.0.0.1:1/api/v1/qr/ab/confirm":              "confirm",
		"POST http://127.0.0.1:1/api/v1/mp/login":                   "login",
		"POST http://127.0.0.1:1/dev/wechat/login":                  "code",
	} {
		method, u, _ := strings.Cut(url, " ")
		if got := requestKind(method, u); got != want {
			t.Errorf("requestKind(%s) = %q, want %q", url, got, want)
		}
	}
	overloaded := []byte(`{"error":{"code":"overloaded","message":"busy"}}`)
	for _, tt := range []struct {
		r    *response
		want string
	}{
		{&response{status: 503, retryAfter: time.Second, body: overloaded}, "shed"},
		{&response{status: 503, body: overloaded}, ""}, // no Retry-After: a failure
		{&response{status: 503, retryAfter: 2 * time.Second, body: []byte(`{"error":{"code":"unavailable"}}`)}, ""},
		{&response{status: 429, retryAfter: time.Second}, "limited"},
		{&response{status: 200}, ""},
		{nil, ""},
	} {
		if got := refusal(tt.r); got != tt.want {
			t.Errorf("refusal(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
	var k kinds
	k.record("create", &response{status: 201}, 10*time.Millisecond)
	k.record("create", &response{status: 503, retryAfter: time.Second, body: overloaded}, time.Millisecond)
	k.record("create", nil, time.Millisecond)
	if s := k.summary()["create"]; s.OK != 1 || s.Shed != 1 || s.Failed != 1 || s.P50 != 10 {
		t.Errorf("summary %+v", s)
	}
	m := "scanlogin_shed_total{class=\"low\",reason=\"queue\",route=\"/api/v1/qr\"} 3\n" +
		"scanlogin_shed_total{class=\"low\",reason=\"queue\",route=\"/api/v1/mp/login\"} 2\n" +
		"scanlogin_shed_total{class=\"high\",reason=\"timeout\",route=\"/api/v1/qr/:scene/scan\"} 1\n"
	got := labelled(m, "scanlogin_shed_total", "class", "reason")
	if got["low queue"] != 5 || got["high timeout"] != 1 || len(got) != 2 {
		t.Errorf("labelled: %v", got)
	}
}
