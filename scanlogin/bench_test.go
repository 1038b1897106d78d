package scanlogin

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// BenchmarkWakeLatency and BenchmarkWaiterMemory run one experiment per
// invocation; run them with -benchtime=1x. BenchmarkLoginCommands averages
// over b.N logins (see docs/BENCHMARKS.md).

// startWaiters creates n scenes and one Wait per scene on e. It returns the
// scene IDs and a channel that yields (index, return time) per finished
// wait.
func startWaiters(b *testing.B, e *Engine, n int) ([]string, <-chan wakeEvent, context.CancelFunc) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ids := make([]string, n)
	toks := make([]string, n)
	for i := range n {
		s, tok, err := e.CreateScene(ctx, NewScene{BrowserIP: "192.0.2.1", BrowserUserAgent: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i], toks[i] = s.ID, tok
	}
	done := make(chan wakeEvent, n)
	for i := range n {
		go func() {
			s, err := e.Wait(ctx, ids[i], toks[i], 1, 10*time.Minute)
			done <- wakeEvent{i: i, at: time.Now(), s: s, err: err}
		}()
		if (i+1)%500 == 0 {
			waitForWaiters(b, e, i+1)
		}
	}
	waitForWaiters(b, e, n)
	return ids, done, cancel
}

type wakeEvent struct {
	i   int
	at  time.Time
	s   *Scene
	err error
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkWakeLatency: with N waits pending on one engine, another engine
// (its own client, as another instance would) scans scenes; latency is from
// just before the Scan call to the waiter's return. "paced" wakes one scene
// at a time; "burst" fires the wakes from 16 goroutines at once.
func BenchmarkWakeLatency(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, mode := range []string{"paced", "burst"} {
			b.Run(fmt.Sprintf("waiters=%d/%s", n, mode), func(b *testing.B) {
				srv := scanlogintest.Start(b)
				e, _ := newTestEngine(b, srv, Config{}, nil)
				other, _ := newTestEngine(b, srv, Config{}, nil)
				ids, done, cancel := startWaiters(b, e, n)
				defer cancel()
				k := min(1000, n/2) // woken scenes; the rest keep waiting
				stride := n / k
				start := make([]time.Time, n)
				var mu sync.Mutex
				scan := func(i int) {
					mu.Lock()
					start[i] = time.Now()
					mu.Unlock()
					if _, err := other.Scan(context.Background(), ids[i], userA); err != nil {
						b.Error(err)
					}
				}
				b.ResetTimer()
				for range b.N {
					switch mode {
					case "paced":
						for j := range k {
							scan(j * stride)
						}
					case "burst":
						var wg sync.WaitGroup
						work := make(chan int)
						for range 16 {
							wg.Go(func() {
								for i := range work {
									scan(i)
								}
							})
						}
						for j := range k {
							work <- j * stride
						}
						close(work)
						wg.Wait()
					}
					break // one experiment per invocation (see above)
				}
				lat := make([]time.Duration, 0, k)
				for range k {
					ev := <-done
					if ev.err != nil || ev.s.State != StateScanned {
						b.Fatalf("waiter %d: %v %v", ev.i, ev.s, ev.err)
					}
					mu.Lock()
					lat = append(lat, ev.at.Sub(start[ev.i]))
					mu.Unlock()
				}
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(ms64(percentile(lat, 0.50)), "p50-ms")
				b.ReportMetric(ms64(percentile(lat, 0.99)), "p99-ms")
				b.ReportMetric(ms64(lat[len(lat)-1]), "max-ms")
				b.ReportMetric(float64(e.hub.waiters()), "still-waiting")
			})
		}
	}
}

// BenchmarkWaiterMemory: heap and goroutine-stack memory per pending Wait,
// and Redis connections per waiter.
func BenchmarkWaiterMemory(b *testing.B) {
	const n = 10000
	srv := scanlogintest.Start(b)
	e, rdb := newTestEngine(b, srv, Config{}, nil)
	s, tok, err := e.CreateScene(context.Background(), NewScene{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	clientsBefore := connectedClients(b, rdb)
	var wg sync.WaitGroup
	b.ResetTimer()
	for range b.N {
		for i := range n {
			wg.Go(func() { _, _ = e.Wait(ctx, s.ID, tok, 1, 10*time.Minute) })
			if (i+1)%500 == 0 {
				waitForWaiters(b, e, i+1)
			}
		}
		break // one experiment per invocation
	}
	waitForWaiters(b, e, n)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	clientsAfter := connectedClients(b, rdb)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / n
	stack := float64(after.StackInuse-before.StackInuse) / n
	b.ReportMetric(heap, "heap-B/waiter")
	b.ReportMetric(stack, "stack-B/waiter")
	b.ReportMetric(float64(clientsAfter-clientsBefore)/n, "redis-conns/waiter")
	b.Logf("connected_clients %d before, %d with %d waiters (pool size %d)", clientsBefore, clientsAfter, n, rdb.Options().PoolSize)
	cancel()
	wg.Wait()
}

func connectedClients(tb testing.TB, rdb *redis.Client) int {
	tb.Helper()
	info := rdb.Info(context.Background(), "clients").Val()
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	tb.Fatal("no connected_clients in INFO")
	return 0
}

// BenchmarkLoginCommands: Redis commands per complete login (create, scan,
// confirm, redeem) from INFO commandstats, script-internal calls included,
// and the same with a long-polling browser that waits through the login.
func BenchmarkLoginCommands(b *testing.B) {
	for _, withWait := range []bool{false, true} {
		b.Run(fmt.Sprintf("wait=%v", withWait), func(b *testing.B) {
			srv := scanlogintest.Start(b)
			quiet := func(e *Engine) { e.pingEvery = time.Hour } // keep idle pings out of the count
			e, _ := newTestEngine(b, srv, Config{}, quiet)
			loginCommands(b, srv, e, 1, withWait) // loads the script: EVALSHA, NOSCRIPT, EVAL
			b.ResetTimer()
			total, calls := loginCommands(b, srv, e, b.N, withWait)
			b.ReportMetric(total, "cmds/login")
			b.ReportMetric(calls["evalsha"], "evalsha/login")
			var parts []string
			for _, k := range slices.Sorted(mapKeys(calls)) {
				parts = append(parts, fmt.Sprintf("%s=%.1f", k, calls[k]))
			}
			b.Logf("per login: %s", strings.Join(parts, " "))
		})
	}
}

func mapKeys(m map[string]float64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// loginCommands runs n complete logins and returns the Redis commands per
// login, in total and per command (INFO and the subscriber's own traffic
// excluded).
func loginCommands(tb testing.TB, srv *scanlogintest.Server, e *Engine, n int, withWait bool) (float64, map[string]float64) {
	tb.Helper()
	ctx := context.Background()
	before := srv.CommandCalls(ctx, tb)
	for range n {
		s, tok, err := e.CreateScene(ctx, NewScene{})
		if err != nil {
			tb.Fatal(err)
		}
		var done chan struct{}
		if withWait {
			done = make(chan struct{})
			go func() {
				defer close(done)
				since := int64(1)
				for since < 3 { // the browser polls until confirmed
					got, err := e.Wait(ctx, s.ID, tok, since, 10*time.Second)
					if err != nil {
						tb.Error(err)
						return
					}
					since = got.Version
				}
			}()
			waitForWaitersQuiet(e, 1)
		}
		if _, err := e.Scan(ctx, s.ID, userA); err != nil {
			tb.Fatal(err)
		}
		if withWait {
			waitForVersionSeen(e, s.ID)
		}
		if _, err := e.Confirm(ctx, s.ID, userA, ""); err != nil {
			tb.Fatal(err)
		}
		if withWait {
			<-done
		}
		if _, err := e.Redeem(ctx, s.ID, tok); err != nil {
			tb.Fatal(err)
		}
	}
	after := srv.CommandCalls(ctx, tb)
	per := map[string]float64{}
	total := 0.0
	for k, v := range after {
		switch k {
		case "info", "ping", "subscribe", "pubsub", "hello", "client": // not per-login work
			continue
		}
		if d := float64(v-before[k]) / float64(n); d > 0 {
			per[k] = d
			total += d
		}
	}
	return total, per
}

func waitForWaitersQuiet(e *Engine, n int) {
	for e.hub.waiters() < n {
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(2 * time.Millisecond)
}

// waitForVersionSeen gives the poller time to re-register after a wake.
func waitForVersionSeen(e *Engine, _ string) {
	time.Sleep(2 * time.Millisecond)
	waitForWaitersQuiet(e, 1)
}

// BenchmarkDecodeScene: one scanned scene's record as a poll or a
// transition reads it, through encoding/json (as it was read before) and
// decodeScene.
func BenchmarkDecodeScene(b *testing.B) {
	rec := sceneRecord{
		ID: "0123456789abcdef0123456789abcdef", State: StateScanned, Version: 2,
		TokenHash: strings.Repeat("9f", 32), MatchCode: "42", IP: "203.0.113.9",
		UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36",
		Created:   1765000000000, Deadline: 1765000060000, ScannedBy: "fedcba9876543210fedcba9876543210",
		Scanner: &scannerRecord{Nickname: "Alice", AvatarURL: "https://login.example.com/api/v1/avatars/0123456789abcdef"}, ScannedAt: 1765000001000,
	}
	raw, err := json.Marshal(&rec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r sceneRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeScene", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := decodeScene(rec.ID, raw)
			if err != nil || *r.Scanner != *rec.Scanner {
				b.Fatal(r, err)
			}
		}
	})
}
