package scanlogin

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable clock for tests that decide expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestEngine starts an engine on s with cfg (secret filled in), closed at
// the end of the test. tune sets test-only knobs before the subscriber runs.
func newTestEngine(t testing.TB, s *scanlogintest.Server, cfg Config, tune func(*Engine)) (*Engine, *redis.Client) {
	t.Helper()
	rdb := s.Client(t)
	if cfg.SessionKeySecret == nil {
		cfg.SessionKeySecret = testSecret
	}
	if cfg.Users == nil {
		cfg.Users = testUsers(t)
	}
	e, err := newEngine(rdb, cfg, tune)
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	waitSubscribed(t, e)
	return e, rdb
}

// waitSubscribed waits until the engine's subscription is confirmed, so a
// test's first transition is not published into the void.
func waitSubscribed(t testing.TB, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		n, err := e.rdb.PubSubNumSub(ctx, e.channel).Result()
		if err == nil && n[e.channel] > 0 && e.downFor() == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("engine never subscribed: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
