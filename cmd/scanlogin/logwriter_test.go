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

// TestLogWriterGathersLines: info lines reach the output together within
// flushAfter, in order; a warning takes everything before it out at once;
// Flush empties the buffer.
func TestLogWriterGathersLines(t *testing.T) {
	out := &lockedBuffer{}
	lw := newLogWriter(out)
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
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, writes := out.get()
		if strings.Count(s, "\n") == 50 {
			if writes != 1 {
				t.Errorf("50 lines in %d writes, want 1", writes)
			}
			if !strings.Contains(s, `"n":0}`) || strings.Index(s, `"n":49}`) < strings.Index(s, `"n":48}`) {
				t.Errorf("lines out of order: %s", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gathered lines not written after %s: %q", flushAfter, s)
		}
		time.Sleep(time.Millisecond)
	}

	log.Info("before the warning")
	log.Warn("redis down", "err", "connection refused")
	s, _ := out.get()
	if !strings.Contains(s, "before the warning") || !strings.HasSuffix(s, "connection refused\"}\n") {
		t.Errorf("a warning did not take the lines before it out at once: %q", s)
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

// TestLogWriterLargeBurst: a burst beyond flushAt is written without
// waiting for the timer.
func TestLogWriterLargeBurst(t *testing.T) {
	out := &lockedBuffer{}
	lw := newLogWriter(out)
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
