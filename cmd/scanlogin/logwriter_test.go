package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer records what the logWriter writes and in how many calls.
type lockedBuffer struct {
	mu     sync.Mutex
	b      strings.Builder
	writes int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.b.Write(p)
}

func (b *lockedBuffer) get() (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String(), b.writes
}

// TestLogWriterGathersLines: info lines wait in the buffer; a warning takes
// everything before it out at once, in order, in one write; so does an error
// of a derived logger; Flush empties the buffer. The timer is out of the way
// (an hour), so a slow machine cannot write early.
func TestLogWriterGathersLines(t *testing.T) {
	out := &lockedBuffer{}
	lw := newLogWriter(out)
	lw.after = time.Hour
	log, err := newLogger(lw, "info")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		log.Info("http request", "n", i)
	}
	if s, _ := out.get(); s != "" {
		t.Fatalf("info lines written at once: %q", s)
	}

	log.Warn("redis down", "err", "connection refused")
	s, writes := out.get()
	if n := strings.Count(s, "\n"); n != 51 || writes != 1 {
		t.Errorf("a warning wrote %d lines in %d writes, want 51 in 1", n, writes)
	}
	if !strings.Contains(s, `"n":0}`) || strings.Index(s, `"n":49}`) < strings.Index(s, `"n":48}`) ||
		!strings.HasSuffix(s, "connection refused\"}\n") {
		t.Errorf("lines out of order: %s", s)
	}

	log.With("component", "x").Error("bad")
	if s, _ := out.get(); !strings.Contains(s, `"component":"x","msg"`) && !strings.Contains(s, `"msg":"bad","component":"x"`) {
		t.Errorf("an error of a derived logger was not written at once: %q", s)
	}

	log.Info("last words")
	if err := lw.Flush(); err != nil {
		t.Fatal(err)
	}
	if s, _ := out.get(); !strings.Contains(s, "last words") {
		t.Errorf("Flush left a line behind: %q", s)
	}
}

// TestLogWriterTimer: a gathered line is written by the timer, unasked.
func TestLogWriterTimer(t *testing.T) {
	out := &lockedBuffer{}
	lw := newLogWriter(out)
	log, err := newLogger(lw, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("alone")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s, _ := out.get(); strings.Contains(s, "alone") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a gathered line was not written %s after (flushAfter %s)", 5*time.Second, flushAfter)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLogWriterLargeBurst: a burst beyond flushAt is written without
// waiting for the timer.
func TestLogWriterLargeBurst(t *testing.T) {
	out := &lockedBuffer{}
	lw := newLogWriter(out)
	lw.after = time.Hour
	line := strings.Repeat("x", 1023) + "\n"
	for range flushAt/len(line) + 1 {
		if _, err := lw.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if s, writes := out.get(); writes != 1 || len(s) < flushAt {
		t.Errorf("a full buffer: %d writes, %d bytes; want one write of at least %d", writes, len(s), flushAt)
	}
}
