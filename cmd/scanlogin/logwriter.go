package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logWriter gathers log lines and writes them a few at a time: a login
// logs about ten lines (an access line per request, an audit line per
// transition), and one write system call per line was about 4 % of the
// servers' CPU at 500 logins/s (docs/BENCHMARKS.md, third sitting). A line
// waits at most flushAfter; a warning or an error, and everything before
// it, is written at once (syncHandler), and so is what is gathered when the
// program ends (Flush). What a crash loses is at most flushAfter of info
// lines.
type logWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	after   time.Duration // flushAfter; tests set their own
	pending bool          // a flush is scheduled
	err     error
}

const (
	// flushAfter is how long a line may wait in the buffer.
	flushAfter = 20 * time.Millisecond
	// flushAt is how much is written at once without waiting.
	flushAt = 32 << 10
)

func newLogWriter(w io.Writer) *logWriter { return &logWriter{w: w, after: flushAfter} }

// Write keeps p (one log line: slog writes each record in one call).
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) >= flushAt {
		l.flushLocked()
	} else if !l.pending {
		l.pending = true
		time.AfterFunc(l.after, l.timerFlush)
	}
	return len(p), nil
}

func (l *logWriter) timerFlush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = false
	l.flushLocked()
}

// Flush writes what is gathered now.
func (l *logWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	return l.err
}

func (l *logWriter) flushLocked() {
	if len(l.buf) == 0 {
		return
	}
	if _, err := l.w.Write(l.buf); err != nil && l.err == nil {
		l.err = err // the first failure; logging goes on
	}
	// A burst must not pin a large buffer for the life of the process.
	if cap(l.buf) > 4*flushAt {
		l.buf = nil
	} else {
		l.buf = l.buf[:0]
	}
}

// syncHandler flushes the logWriter after every record at level Warn or
// above, so that problems reach the log at once, in order.
type syncHandler struct {
	slog.Handler
	w *logWriter
}

func (h syncHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		_ = h.w.Flush()
	}
	return err
}

func (h syncHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return syncHandler{h.Handler.WithAttrs(attrs), h.w}
}

func (h syncHandler) WithGroup(name string) slog.Handler {
	return syncHandler{h.Handler.WithGroup(name), h.w}
}
