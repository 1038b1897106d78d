package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer for a logger written from timers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func testGate(limit int, lowWait, highWait time.Duration) (*gate, *syncBuffer) {
	logs := &syncBuffer{}
	g := newGate(AdmissionConfig{Limit: limit, LowWait: lowWait, HighWait: highWait}, slog.New(slog.NewJSONHandler(logs, nil)), newAdmissionMetrics())
	return g, logs
}

func (g *gate) state() (active, waitingHigh, waitingLow int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active, g.waiting[high].Len(), g.waiting[low].Len()
}

func waitState(t *testing.T, g *gate, active, waitingHigh, waitingLow int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		a, h, l := g.state()
		if a == active && h == waitingHigh && l == waitingLow {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gate: active %d, waiting high %d, low %d; want %d, %d, %d", a, h, l, active, waitingHigh, waitingLow)
		}
	}
}

// TestGate: new work may hold half the slots, work on a sign-in under way
// all of them; new work waits its patience and is refused, or is refused
// on arrival once the line is standing; a freed slot goes to the oldest
// high waiter, and to low ones only while they are under their half; a
// waiter whose client leaves takes nothing.
func TestGate(t *testing.T) {
	ctx := context.Background()
	g, _ := testGate(4, 100*time.Millisecond, 5*time.Second)
	for range 2 {
		if r := g.acquire(ctx, low); r != "" {
			t.Fatalf("a free slot refused: %s", r)
		}
	}
	start := time.Now()
	if r := g.acquire(ctx, low); r != reasonTimeout {
		t.Fatalf("low beyond its half: %q, want timeout", r)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("low refused after %s, before its wait", time.Since(start))
	}
	for range 2 {
		if r := g.acquire(ctx, high); r != "" {
			t.Fatalf("high refused with its half free: %s", r)
		}
	}
	waitState(t, g, 4, 0, 0)

	highDone := make(chan string, 1)
	go func() { highDone <- g.acquire(ctx, high) }()
	waitState(t, g, 4, 1, 0)
	lowDone := make(chan string, 1)
	go func() { lowDone <- g.acquire(ctx, low) }()
	waitState(t, g, 4, 1, 1)
	gone, leave := context.WithCancel(ctx)
	goneDone := make(chan string, 1)
	go func() { goneDone <- g.acquire(gone, high) }()
	waitState(t, g, 4, 2, 1)
	leave()
	if r := <-goneDone; r != reasonGone {
		t.Fatalf("a waiter whose client left: %q", r)
	}
	time.Sleep(150 * time.Millisecond) // the high waiter has now waited longer than low_wait
	start = time.Now()
	if r := g.acquire(ctx, low); r != reasonQueue {
		t.Fatalf("low behind a standing line: %q, want queue", r)
	}
	if time.Since(start) > 50*time.Millisecond {
		t.Errorf("refused after %s, not on arrival", time.Since(start))
	}
	if r := <-lowDone; r != reasonTimeout {
		t.Fatalf("low waiting behind high: %q, want timeout", r)
	}

	g.release()
	if r := <-highDone; r != "" {
		t.Fatalf("high: %q", r)
	}
	g2, _ := testGate(4, 5*time.Second, 5*time.Second)
	for _, p := range []priority{low, low, high, high} {
		if g2.acquire(ctx, p) != "" {
			t.Fatal("refused")
		}
	}
	go func() { lowDone <- g2.acquire(ctx, low) }()
	waitState(t, g2, 4, 0, 1)
	g2.release()
	waitState(t, g2, 3, 0, 1) // 3 held: new work is over its half
	g2.release()
	waitState(t, g2, 2, 0, 1)
	g2.release()
	if r := <-lowDone; r != "" {
		t.Fatalf("low: %q", r)
	}
	waitState(t, g2, 2, 0, 0)
	g2.release()
	g2.release()
	waitState(t, g2, 0, 0, 0)
	for range 4 {
		g.release()
	}
	waitState(t, g, 0, 0, 0)
}

// TestGateLogsPerInterval: many refusals make one log line per interval
// with their counts, none per request.
func TestGateLogsPerInterval(t *testing.T) {
	g, logs := testGate(1, time.Millisecond, time.Millisecond)
	g.logEvery = 100 * time.Millisecond
	for range 50 {
		g.refused(low, "/api/v1/qr", reasonQueue)
	}
	g.refused(high, "/api/v1/qr/:scene/confirm", reasonTimeout)
	if n := len(logs.lines()); n != 0 {
		t.Fatalf("%d lines logged at once", n)
	}
	// The line comes at the interval's end; a slow machine may be late
	// with it, so wait for it, then for the next interval, in which nothing
	// was refused and nothing more is logged.
	for deadline := time.Now().Add(5 * time.Second); len(logs.lines()) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * g.logEvery)
	lines := logs.lines()
	if len(lines) != 1 {
		t.Fatalf("want one line, got %v", lines)
	}
	l := lines[0]
	if l["msg"] != "overloaded: requests shed" || l["low_queue"] != 50.0 || l["high_timeout"] != 1.0 || l["low_timeout"] != 0.0 || l["limit"] != 1.0 {
		t.Errorf("line %v", l)
	}
	g.refused(low, "/api/v1/qr", reasonTimeout)
	g.close()
	time.Sleep(200 * time.Millisecond)
	if n := len(logs.lines()); n != 1 {
		t.Errorf("%d lines after close, want the one before it", n)
	}
}

// TestTicketStepsOut: a ticket gives its slot up while it waits for
// WeChat and takes one again after, and returns exactly one slot in the
// end, even when a goroutine of its request steps back in after the
// request finished.
func TestTicketStepsOut(t *testing.T) {
	ctx := context.Background()
	g, _ := testGate(1, time.Millisecond, time.Second)
	if g.acquire(ctx, high) != "" {
		t.Fatal("no slot")
	}
	tk := &ticket{g: g, held: true}
	if !tk.leave() {
		t.Fatal("leave")
	}
	waitState(t, g, 0, 0, 0)
	if tk.leave() {
		t.Fatal("left twice")
	}
	if g.acquire(ctx, low) != "" { // someone else uses the slot meanwhile
		t.Fatal("the slot was not free")
	}
	back := make(chan struct{})
	go func() { tk.reenter(ctx); close(back) }()
	waitState(t, g, 1, 1, 0)
	g.release()
	<-back
	waitState(t, g, 1, 0, 0)
	tk.done()
	tk.done()
	waitState(t, g, 0, 0, 0)

	late := &ticket{g: g, held: true}
	g.active++
	late.leave()
	late.done()
	late.reenter(ctx) // after the request finished
	waitState(t, g, 0, 0, 0)
}

// TestGateConcurrent: many requests of both classes, some of whose
// clients leave, never hold more than the limit and leave nothing behind
// (run with -race).
func TestGateConcurrent(t *testing.T) {
	g, _ := testGate(4, 2*time.Millisecond, 20*time.Millisecond)
	var mu sync.Mutex
	inside, most := 0, 0
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(30))*time.Millisecond)
			defer cancel()
			p := priority(i % 2)
			if g.acquire(ctx, p) != "" {
				return
			}
			tk := &ticket{g: g, held: true}
			defer tk.done()
			if i%3 == 0 && tk.leave() {
				time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
				tk.reenter(ctx)
			}
			tk.mu.Lock()
			held := tk.held
			tk.mu.Unlock()
			if !held {
				return // went on without a slot after its wait
			}
			mu.Lock()
			inside++
			most = max(most, inside)
			mu.Unlock()
			time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
			mu.Lock()
			inside--
			mu.Unlock()
		}()
	}
	wg.Wait()
	if most > 4 {
		t.Errorf("%d requests inside at once, limit 4", most)
	}
	waitState(t, g, 0, 0, 0)
}

func TestParseAdmission(t *testing.T) {
	for in, want := range map[string]AdmissionConfig{
		"":                                   {},
		"off":                                {Limit: admissionOff},
		"limit=40":                           {Limit: 40},
		"low_wait=250ms, high_wait=2s":       {LowWait: 250 * time.Millisecond, HighWait: 2 * time.Second},
		"limit=8,low_wait=1s,high_wait=30s,": {Limit: 8, LowWait: time.Second, HighWait: 30 * time.Second},
	} {
		got, err := ParseAdmission(in)
		if err != nil || got != want {
			t.Errorf("ParseAdmission(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"on", "limit=0", "limit=-1", "limit=x", "low_wait=0", "high_wait=1m", "low_wait=5", "burst=3"} {
		if _, err := ParseAdmission(in); err == nil {
			t.Errorf("ParseAdmission(%q) accepted", in)
		}
	}
	d := AdmissionConfig{}.withDefaults()
	if d.Limit < admissionPerCore || d.LowWait != defaultAdmissionLow || d.HighWait != defaultAdmissionHigh {
		t.Errorf("defaults %+v", d)
	}
}
