package server

import (
	"context"
	"fmt"
	"sync"
)

// flight lets concurrent callers with one key share one call.
type flight[T any] struct {
	mu    sync.Mutex
	calls map[string]*flightCall[T]
}

type flightCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// Do runs fn once for all concurrent callers of key. A follower stops
// waiting when its own ctx ends; the call goes on for the others.
func (f *flight[T]) Do(ctx context.Context, key string, fn func() (T, error)) (T, error) {
	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.val, c.err
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	if f.calls == nil {
		f.calls = map[string]*flightCall[T]{}
	}
	c := &flightCall[T]{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	// Even if fn panics, the key is freed and followers are released (with
	// an error), or every later call for the key would hang.
	defer func() {
		if r := recover(); r != nil {
			c.err = fmt.Errorf("server: shared call panicked: %v", r)
			f.finish(key, c)
			panic(r)
		}
		f.finish(key, c)
	}()
	c.val, c.err = fn()
	return c.val, c.err
}

func (f *flight[T]) finish(key string, c *flightCall[T]) {
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(c.done)
}
