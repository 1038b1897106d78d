package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// stats counts what happens; only events inside the measured window count
// toward the summary, the all* counters feed the progress line.
type stats struct {
	measuring atomic.Bool
	started   time.Time
	stopped   time.Time

	browserReqs, phoneReqs atomic.Int64
	logins, creates        atomic.Int64
	allLogins, allCreated  atomic.Int64
	with503, without503    atomic.Int64
	notStartedN            atomic.Int64

	kinds kinds // answers by request kind, in the window

	mu        sync.Mutex
	latencies []time.Duration
	latAt     []time.Time
	oidcLat   []time.Duration // -mode oidc: confirm -> tokens
	errors    map[string]int64
	samples   map[string]string // one detail per error kind
}

func newStats() *stats { return &stats{errors: map[string]int64{}, samples: map[string]string{}} }

func (s *stats) start() {
	s.mu.Lock()
	s.started = time.Now()
	s.mu.Unlock()
	s.measuring.Store(true)
}

func (s *stats) stop() {
	s.measuring.Store(false)
	s.mu.Lock()
	s.stopped = time.Now()
	s.mu.Unlock()
}

func (s *stats) request(side string) {
	if !s.measuring.Load() {
		return
	}
	if side == "browser" {
		s.browserReqs.Add(1)
	} else {
		s.phoneReqs.Add(1)
	}
}

func (s *stats) created() {
	s.allCreated.Add(1)
	if s.measuring.Load() {
		s.creates.Add(1)
	}
}

func (s *stats) login() {
	s.allLogins.Add(1)
	if s.measuring.Load() {
		s.logins.Add(1)
	}
}

// delivered records confirm->delivery latency for confirms sent inside the
// window.
func (s *stats) delivered(d time.Duration, confirmedAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inWindow(confirmedAt) {
		return
	}
	s.latencies = append(s.latencies, d)
	s.latAt = append(s.latAt, confirmedAt)
}

// inWindow: t is inside the measured window. Call with s.mu held.
func (s *stats) inWindow(t time.Time) bool {
	return !s.started.IsZero() && !t.Before(s.started) && (s.stopped.IsZero() || !t.After(s.stopped))
}

// notStarted counts a login the phones would start in the window but
// found no browser with a scene for.
func (s *stats) notStarted() {
	if s.measuring.Load() {
		s.notStartedN.Add(1)
	}
}

func (s *stats) unavailable(withRetryAfter bool) {
	if withRetryAfter {
		s.with503.Add(1)
	} else {
		s.without503.Add(1)
	}
}

// fail counts an error of a kind; detail (may be empty) is kept once per
// kind for the summary.
func (s *stats) fail(kind, detail string) {
	s.mu.Lock()
	s.errors[kind]++
	if _, ok := s.samples[kind]; !ok && detail != "" {
		s.samples[kind] = detail
	}
	s.mu.Unlock()
}

func (s *stats) errorCount() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.errors {
		n += v
	}
	return n
}

// probe reads the servers' Redis and processes.
type probe struct {
	cfg *config
	rdb *redis.Client
}

func newProbe(cfg *config) *probe {
	p := &probe{cfg: cfg}
	if cfg.redisAddr != "" {
		p.rdb = redis.NewClient(&redis.Options{Addr: cfg.redisAddr, MaxRetries: -1})
	}
	return p
}

func (p *probe) close() {
	if p.rdb != nil {
		_ = p.rdb.Close()
	}
}

type snapshot struct {
	at       time.Time
	commands map[string]int64
	cpu      []float64 // seconds per pid
	// The rest of the machine's share, to tell how much of it the servers
	// got: Redis (from its INFO, -1 if unknown) and the load generator.
	redisCPU, selfCPU float64
	// dbCPU is the database's processes' CPU, -1 with none started here;
	// dbCalls the servers' database calls by operation (from /metrics).
	dbCPU   float64
	dbCalls map[string]float64
	// shed is the servers' scanlogin_shed_total by "class reason".
	shed map[string]float64
}

func (p *probe) snapshot(ctx context.Context) snapshot {
	s := snapshot{at: time.Now(), redisCPU: -1, selfCPU: cpuSeconds(os.Getpid())}
	if p.rdb != nil {
		if info, err := p.rdb.Info(ctx, "commandstats", "cpu").Result(); err == nil {
			s.commands = scanlogintest.ParseCommandStats(info)
			s.redisCPU = redisCPUSeconds(info)
		}
	}
	for _, pid := range p.cfg.pids {
		s.cpu = append(s.cpu, cpuSeconds(pid))
	}
	s.dbCPU = -1
	if p.cfg.dbPIDs != nil {
		if pids := p.cfg.dbPIDs(); len(pids) > 0 {
			s.dbCPU = 0
			for _, pid := range pids {
				s.dbCPU += max(cpuSeconds(pid), 0)
			}
		}
	}
	s.dbCalls, s.shed = map[string]float64{}, map[string]float64{}
	seen := map[string]bool{}
	for _, base := range append(append([]string{}, p.cfg.browserTargets...), p.cfg.phoneTargets...) {
		if !seen[base] {
			seen[base] = true
			m := scrape(ctx, http.DefaultClient, base)
			for op, n := range labelled(m, "scanlogin_db_call_duration_seconds_count", "op") {
				s.dbCalls[op] += n
			}
			for k, n := range labelled(m, "scanlogin_shed_total", "class", "reason") {
				s.shed[k] += n
			}
		}
	}
	return s
}

// scrape is a server's /metrics text ("" when it cannot be read).
func scrape(ctx context.Context, c *http.Client, base string) string {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	resp, err := c.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// labelled sums the series of a metric by the values of the given labels
// (joined by a space), over its other labels.
func labelled(metrics, name string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(metrics, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		set, v, _ := strings.Cut(rest, "} ")
		var key []string
		for _, l := range labels {
			_, after, _ := strings.Cut(set, l+`="`)
			val, _, _ := strings.Cut(after, `"`)
			key = append(key, val)
		}
		f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
		out[strings.Join(key, " ")] += f
	}
	return out
}

// redisCPUSeconds is used_cpu_sys + used_cpu_user of an INFO reply, -1 if
// absent.
func redisCPUSeconds(info string) float64 {
	total, found := 0.0, 0
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			total += f
			found++
		}
	}
	if found != 2 {
		return -1
	}
	return total
}

// rss is the resident set of the i-th server process in bytes (0 if unknown).
func (p *probe) rss(i int) int64 {
	if i >= len(p.cfg.pids) {
		return 0
	}
	return procStatusKB(p.cfg.pids[i], "VmRSS") * 1024
}

// clockTicks is USER_HZ, 100 on Linux for every architecture Go supports.
const clockTicks = 100

// cpuSeconds is the user + system CPU time of a process, -1 if it is gone.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name may hold spaces; fields resume after the last ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return -1
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / clockTicks
}

func procStatusKB(pid int, key string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// gauge reads one unlabelled metric from a server's /metrics.
func gauge(ctx context.Context, c *http.Client, base, name string) float64 {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

type latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

func percentiles(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q * float64(len(s)-1))
		return float64(s[i].Microseconds()) / 1000
	}
	return latency{N: len(s), P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999), Max: float64(s[len(s)-1].Microseconds()) / 1000}
}

type summary struct {
	Mode        string  `json:"mode"`
	Browsers    int     `json:"browsers"`
	TargetRate  float64 `json:"target_logins_per_s"`
	WindowS     float64 `json:"window_s"`
	Fault       string  `json:"fault,omitempty"`
	Relogin     bool    `json:"relogin"`
	H2C         bool    `json:"browsers_h2c"`
	PhonesH2C   bool    `json:"phones_h2c"`
	ServerProcs int     `json:"server_gomaxprocs,omitempty"`
	Admission   string  `json:"admission,omitempty"`
	IdleWaiters int     `json:"idle_waiters"`
	// RedisFsync is the appendfsync of the Redis started here.
	RedisFsync string `json:"redis_appendfsync,omitempty"`

	// LoginsNotStarted: logins offered (the phones' rate) that found no
	// browser with a scene, because scenes were refused or slow to come.
	LoginsNotStarted  int64                  `json:"logins_not_started"`
	ByKind            map[string]kindSummary `json:"requests_by_kind"`
	Logins            int64                  `json:"logins"`
	LoginsPerS        float64                `json:"logins_per_s"`
	ScenesCreated     int64                  `json:"scenes_created"`
	ScenesPerS        float64                `json:"scenes_created_per_s"`
	Latency           latency                `json:"confirm_to_delivery"`
	OIDCLatency       *latency               `json:"oidc_confirm_to_tokens,omitempty"`
	Errors            map[string]int64       `json:"errors"`
	ErrorSamples      map[string]string      `json:"error_samples,omitempty"`
	BrowserReqsPerLog float64                `json:"browser_requests_per_login"`
	PhoneReqsPerLog   float64                `json:"phone_requests_per_login"`
	RedisCmdsPerLogin float64                `json:"redis_commands_per_login"`
	RedisByName       map[string]float64     `json:"redis_commands_by_name_per_login"`
	CPUPerLoginMs     float64                `json:"server_cpu_ms_per_login"`
	CPUByInstanceS    []float64              `json:"server_cpu_s_by_instance"` // -1: exited in the window
	// CPUPartial: an instance exited in the window, so the CPU per login
	// counts only the others.
	CPUPartial bool `json:"server_cpu_partial,omitempty"`
	// Where the rest of the machine went (all share its cores): Redis
	// (absent when it restarted in the window) and the load generator.
	RedisCPUPerLoginMs *float64 `json:"redis_cpu_ms_per_login,omitempty"`
	// The database: its processes' CPU (PostgreSQL started here; SQLite
	// is inside the servers), and the servers' calls to it by operation.
	Database             string             `json:"database,omitempty"`
	DBCPUPerLoginMs      *float64           `json:"db_cpu_ms_per_login,omitempty"`
	DBCallsPerLogin      float64            `json:"db_calls_per_login"`
	DBCallsByOpPerLogin  map[string]float64 `json:"db_calls_by_op_per_login,omitempty"`
	LoadgenCPUPerLoginMs float64            `json:"loadgen_cpu_ms_per_login"`
	PeakRSSMB            []float64          `json:"peak_rss_mb_by_instance"`
	RSSPerIdleWaiterKB   float64            `json:"rss_per_idle_waiter_kb"`
	Unavailable503       struct {
		WithRetryAfter    int64 `json:"with_retry_after"`
		WithoutRetryAfter int64 `json:"without_retry_after"`
	} `json:"unavailable_503"`
	// ServerShed is what the servers' admission control refused in the
	// window, by "class reason" (scanlogin_shed_total).
	ServerShed        map[string]float64 `json:"server_shed,omitempty"`
	ConfirmedInWindow int64              `json:"confirmed_in_window"`
	LostLogins        int64              `json:"lost_logins"`
	// Logins under way: scanned in the window; lost if never redeemed.
	ScannedInWindow int64        `json:"scanned_in_window"`
	LostAfterScan   int64        `json:"lost_after_scan"`
	FaultResult     *faultResult `json:"fault_result,omitempty"`
	Samples         []sample     `json:"samples"`
}

func (l *load) summarize(before, after snapshot, p *probe, fr *faultResult) *summary {
	st := l.st
	window := after.at.Sub(before.at).Seconds()
	s := &summary{
		Mode: l.cfg.mode, Browsers: l.cfg.browsers, TargetRate: l.cfg.rate, WindowS: window, Fault: l.cfg.fault,
		Relogin: l.cfg.relogin, H2C: l.cfg.h2c, PhonesH2C: l.cfg.phonesH2C, ServerProcs: l.cfg.serverProcs, Admission: l.cfg.admission, Logins: st.logins.Load(), ScenesCreated: st.creates.Load(),
	}
	if l.cfg.dbPIDs != nil { // servers started here
		s.Database = l.cfg.db
	}
	if l.cfg.create {
		s.Mode = "create"
	}
	s.LoginsPerS = float64(s.Logins) / window
	s.ScenesPerS = float64(s.ScenesCreated) / window
	st.mu.Lock()
	s.Latency = percentiles(st.latencies)
	if l.cfg.mode == "oidc" {
		ol := percentiles(st.oidcLat)
		s.OIDCLatency = &ol
	}
	s.Errors = map[string]int64{}
	s.ErrorSamples = map[string]string{}
	for k, v := range st.errors {
		s.Errors[k] = v
		if d := st.samples[k]; d != "" {
			s.ErrorSamples[k] = d
		}
	}
	st.mu.Unlock()
	per := float64(s.Logins)
	if l.cfg.create {
		per = float64(s.ScenesCreated)
	}
	if per > 0 {
		s.BrowserReqsPerLog = float64(st.browserReqs.Load()) / per
		s.PhoneReqsPerLog = float64(st.phoneReqs.Load()) / per
		if before.commands != nil && after.commands != nil {
			// Every command by name, so that the total can be itemised
			// (docs/ARCHITECTURE.md#storage maps them to requests).
			var total int64
			s.RedisByName = map[string]float64{}
			for k, v := range after.commands {
				d := v - before.commands[k]
				if k == "info" || d <= 0 {
					continue // the probe's own
				}
				total += d
				s.RedisByName[k] = float64(d) / per
			}
			s.RedisCmdsPerLogin = float64(total) / per
		}
		var cpu float64
		for i := range after.cpu {
			if before.cpu[i] < 0 || after.cpu[i] < 0 {
				// It exited in the window (the sigterm fault): its share
				// is unknown, and so is the servers' total.
				s.CPUByInstanceS = append(s.CPUByInstanceS, -1)
				s.CPUPartial = true
				continue
			}
			d := after.cpu[i] - before.cpu[i]
			s.CPUByInstanceS = append(s.CPUByInstanceS, d)
			cpu += d
		}
		s.CPUPerLoginMs = cpu * 1000 / per
		if d := after.redisCPU - before.redisCPU; before.redisCPU >= 0 && after.redisCPU >= 0 && d >= 0 {
			ms := d * 1000 / per
			s.RedisCPUPerLoginMs = &ms
		}
		s.LoadgenCPUPerLoginMs = (after.selfCPU - before.selfCPU) * 1000 / per
		if d := after.dbCPU - before.dbCPU; before.dbCPU >= 0 && after.dbCPU >= 0 && d >= 0 {
			ms := d * 1000 / per
			s.DBCPUPerLoginMs = &ms
		}
		for op, n := range after.dbCalls {
			if d := n - before.dbCalls[op]; d > 0 {
				if s.DBCallsByOpPerLogin == nil {
					s.DBCallsByOpPerLogin = map[string]float64{}
				}
				s.DBCallsByOpPerLogin[op] = d / per
				s.DBCallsPerLogin += d / per
			}
		}
	}
	for _, pid := range l.cfg.pids {
		s.PeakRSSMB = append(s.PeakRSSMB, float64(procStatusKB(pid, "VmHWM"))/1024)
	}
	s.Unavailable503.WithRetryAfter = st.with503.Load()
	s.Unavailable503.WithoutRetryAfter = st.without503.Load()
	l.mu.Lock()
	s.ConfirmedInWindow = int64(len(l.confirmed))
	for _, t := range l.confirmed {
		if !t.redeemed.Load() {
			s.LostLogins++
		}
	}
	s.ScannedInWindow = int64(len(l.scanned))
	for _, t := range l.scanned {
		if !t.redeemed.Load() {
			s.LostAfterScan++
		}
	}
	l.mu.Unlock()
	s.LoginsNotStarted = st.notStartedN.Load()
	for k, n := range after.shed {
		if d := n - before.shed[k]; d > 0 {
			if s.ServerShed == nil {
				s.ServerShed = map[string]float64{}
			}
			s.ServerShed[k] = d
		}
	}
	s.ByKind = st.kinds.summary()
	if fr != nil {
		fr.MaxAfter = st.maxDeliveryAfter(l.faultAt)
	}
	s.FaultResult = fr
	return s
}

// sample is the state of the system at one moment (seconds since the run
// started): Redis keys and, per
// server instance, Go heap in use and goroutines (from /metrics) and, for
// processes with known PIDs, RSS.
type sample struct {
	AtS        float64          `json:"at_s"`
	RedisKeys  int64            `json:"redis_keys"`
	KeysByKind map[string]int64 `json:"redis_keys_by_kind,omitempty"`
	HeapMB     []float64        `json:"heap_inuse_mb"`
	Goroutines []float64        `json:"goroutines"`
	Waiting    []float64        `json:"waiting_polls"`
	RSSMB      []float64        `json:"rss_mb,omitempty"` // instances started here
}

func (l *load) takeSample(ctx context.Context, p *probe) sample {
	s := sample{AtS: time.Since(l.t0).Seconds()}
	if p.rdb != nil {
		s.RedisKeys, _ = p.rdb.DBSize(ctx).Result()
		if l.cfg.sample > 0 {
			s.KeysByKind = keyCensus(ctx, p.rdb)
		}
	}
	for _, base := range l.servers() {
		s.HeapMB = append(s.HeapMB, gauge(ctx, l.client, base, "go_memstats_heap_inuse_bytes")/(1<<20))
		s.Goroutines = append(s.Goroutines, gauge(ctx, l.client, base, "go_goroutines"))
		s.Waiting = append(s.Waiting, gauge(ctx, l.client, base, "scanlogin_waiting_polls"))
	}
	for i := range l.cfg.pids {
		s.RSSMB = append(s.RSSMB, float64(p.rss(i))/(1<<20))
	}
	return s
}

// sampleLoop samples at the start of the window and every -sample until
// ctx ends.
func (l *load) sampleLoop(ctx context.Context, p *probe) []sample {
	out := []sample{l.takeSample(ctx, p)}
	if l.cfg.sample <= 0 {
		<-ctx.Done()
		return out
	}
	t := time.NewTicker(l.cfg.sample)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
			out = append(out, l.takeSample(ctx, p))
		}
	}
}

// servers lists every distinct target, browsers' first.
func (l *load) servers() []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range append(append([]string{}, l.cfg.browserTargets...), l.cfg.phoneTargets...) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// keyCensus counts keys by kind: the first name segment after the "sl:"
// prefix ("{" for scenes, "sess", "user", "wxfake", ...; mini-program
// tokens, kept in their user's slot as user:{<id>}:mpt:<hash>, and those of
// the old form, mpt:{<hash>}, as "mpt"), so a soak shows which kinds grow
// (sessions and tokens live for days by design) and which must stay flat
// (scenes, codes, limiter state).
func keyCensus(ctx context.Context, rdb *redis.Client) map[string]int64 {
	out := map[string]int64{}
	iter := rdb.Scan(ctx, 0, "*", 2000).Iterator()
	for iter.Next(ctx) {
		k := strings.TrimPrefix(iter.Val(), "sl:")
		if strings.HasPrefix(k, "{") {
			out["scene"]++
			continue
		}
		if strings.HasPrefix(k, "user:") && strings.Contains(k, "}:mpt:") {
			out["mpt"]++
			continue
		}
		if i := strings.IndexAny(k, ":{"); i > 0 {
			k = k[:i]
		}
		out[k]++
	}
	return out
}
