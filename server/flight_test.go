package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFlightPanic: a call that panics frees its key and releases its
// followers; the next call for the key runs.
func TestFlightPanic(t *testing.T) {
	var f flight[int]
	started := make(chan struct{})
	release := make(chan struct{})
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		_, _ = f.Do(t.Context(), "k", func() (int, error) {
			close(started)
			<-release
			panic("boom")
		})
	}()
	<-started
	follower := make(chan error, 1)
	go func() {
		_, err := f.Do(t.Context(), "k", func() (int, error) { return 0, nil })
		follower <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the follower join the call
	close(release)
	if r := <-leader; r != "boom" {
		t.Fatalf("the leader's panic was not passed on: %v", r)
	}
	select {
	case err := <-follower:
		if err == nil {
			t.Fatal("the follower of a panicked call got no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the follower of a panicked call hangs")
	}
	done := make(chan int, 1)
	go func() {
		v, _ := f.Do(t.Context(), "k", func() (int, error) { return 7, nil })
		done <- v
	}()
	select {
	case v := <-done:
		if v != 7 {
			t.Fatalf("next call = %d", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the key stays taken after a panic")
	}
}

// TestFlightFollowerContext: a follower whose request ends stops waiting;
// the call goes on for the leader.
func TestFlightFollowerContext(t *testing.T) {
	var f flight[int]
	started := make(chan struct{})
	release := make(chan struct{})
	leader := make(chan int, 1)
	go func() {
		v, _ := f.Do(t.Context(), "k", func() (int, error) {
			close(started)
			<-release
			return 1, nil
		})
		leader <- v
	}()
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := f.Do(ctx, "k", func() (int, error) { return 0, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("follower: %v", err)
	}
	close(release)
	if v := <-leader; v != 1 {
		t.Fatalf("leader = %d", v)
	}
}
