package scanlogin

import (
	"errors"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// TestWaitRedisHangs: Redis accepts connections but answers nothing (CLIENT
// PAUSE, like a hung or partitioned server): pending waits still fail with
// ErrUnavailable in about 2 s, noticed by the subscriber's missing PONG, and
// everything works again once Redis answers.
func TestWaitRedisHangs(t *testing.T) {
	srv := scanlogintest.Start(t)
	e, rdb := newTestEngine(t, srv, Config{}, nil)
	ctx := t.Context()
	var chans []<-chan waitResult
	for range 20 {
		s, tok, _ := e.CreateScene(ctx, NewScene{})
		chans = append(chans, goWait(ctx, e, s.ID, tok, 1, 20*time.Second))
	}
	waitForWaiters(t, e, 20)
	if err := rdb.Do(ctx, "CLIENT", "PAUSE", 4000, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for _, ch := range chans {
		r := <-ch
		if !errors.Is(r.err, ErrUnavailable) {
			t.Fatalf("wait with Redis hung: %+v", r)
		}
	}
	d := time.Since(t0)
	t.Logf("waits failed %v after Redis stopped answering", d)
	if d > 2500*time.Millisecond {
		t.Fatalf("waits failed only after %v", d)
	}
	waitSubscribed(t, e) // after the pause ends
	s, tok, err := e.CreateScene(ctx, NewScene{})
	if err != nil {
		t.Fatal(err)
	}
	ch := goWait(ctx, e, s.ID, tok, 1, 5*time.Second)
	waitForWaiters(t, e, 1)
	if _, err := e.Scan(ctx, s.ID, userA); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r.err != nil || r.s.State != StateScanned || r.elapsed > 2*time.Second {
		t.Fatalf("after the pause: %+v", r)
	}
}
