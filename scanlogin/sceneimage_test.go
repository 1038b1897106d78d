package scanlogin

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Two engines on one Redis (two instances): concurrent callers make one
// image, and a failed make is retried by the next caller after a pause, not
// by every waiting one.
func TestSceneImageOfOneMakerPerScene(t *testing.T) {
	f := newSceneFixture(t, Config{})
	other, _ := newTestEngine(t, f.srv, Config{Now: f.clk.Now}, nil)
	ctx := t.Context()
	sc, _, err := f.e.CreateScene(ctx, NewScene{})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	maker := func(ctx context.Context) (string, []byte, error) {
		n := calls.Add(1)
		time.Sleep(100 * time.Millisecond)
		return "image/png", []byte{byte(n)}, nil
	}
	var wg sync.WaitGroup
	got := concurrently(t, &wg, func(i int) ([]byte, error) {
		e := f.e
		if i%2 == 1 {
			e = other
		}
		_, data, err := e.SceneImageOf(ctx, sc.ID, maker)
		return data, err
	})
	wg.Wait()
	for i, g := range got {
		if g.err != nil || string(g.data) != "\x01" {
			t.Fatalf("caller %d: %q %v", i, g.data, g.err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d makes, want 1", calls.Load())
	}

	// WeChat fails: the caller gets the error; the next caller, a moment
	// later, waits out the pause and makes it again.
	sc2, _, _ := f.e.CreateScene(ctx, NewScene{})
	boom := errors.New("wechat busy")
	if _, _, err := f.e.SceneImageOf(ctx, sc2.ID, func(context.Context) (string, []byte, error) { return "", nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed make: %v", err)
	}
	start := time.Now()
	_, data, err := other.SceneImageOf(ctx, sc2.ID, func(context.Context) (string, []byte, error) { return "image/png", []byte("ok"), nil })
	if err != nil || string(data) != "ok" {
		t.Fatalf("after a failure: %q %v", data, err)
	}
	if waited := time.Since(start); waited < imageRetryAfterFailure/2 {
		t.Fatalf("a failed make was retried after %s", waited)
	}

	if _, _, err := f.e.SceneImageOf(ctx, newID(), maker); !errors.Is(err, ErrSceneNotFound) {
		t.Fatalf("no scene: %v", err)
	}
	f.clk.Advance(time.Hour)
	if _, _, err := f.e.SceneImageOf(ctx, sc.ID, maker); !errors.Is(err, ErrSceneExpired) {
		t.Fatalf("expired scene: %v", err)
	}
}

type imageResult struct {
	data []byte
	err  error
}

func concurrently(t *testing.T, wg *sync.WaitGroup, fn func(int) ([]byte, error)) []imageResult {
	t.Helper()
	out := make([]imageResult, 20)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].data, out[i].err = fn(i)
		}()
	}
	return out
}
