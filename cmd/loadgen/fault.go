package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// faultResult is what a fault run observed around the fault.
type faultResult struct {
	Kind     string  `json:"kind"`
	At       string  `json:"at"`
	Detail   string  `json:"detail"`
	Error    string  `json:"error,omitempty"`
	MaxAfter float64 `json:"max_delivery_ms_after_fault"`
}

// injectFault breaks one thing in the middle of the window; the summary's
// error table, 503 counts and lost-login count say how the system took it.
func (l *load) injectFault(ctx context.Context, cl *cluster, p *probe, logs io.Writer) *faultResult {
	fr := &faultResult{Kind: l.cfg.fault, At: time.Now().UTC().Format(time.RFC3339Nano)}
	at := time.Now()
	fmt.Fprintf(logs, "loadgen: injecting %s\n", l.cfg.fault)
	switch l.cfg.fault {
	case "redis-restart":
		if err := cl.redis.restart(3 * time.Second); err != nil {
			fr.Error = err.Error()
		}
		fr.Detail = "redis-server killed, down 3 s, restarted on the same port with its AOF"
	case "pubsub-kill":
		if p.rdb == nil {
			fr.Error = "no -redis address"
			break
		}
		n, err := p.rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
		if err != nil {
			fr.Error = err.Error()
		}
		fr.Detail = fmt.Sprintf("CLIENT KILL TYPE pubsub closed %d connections", n)
	case "sigterm":
		victim := cl.instances[1]
		l.markDead(victim.url)
		if err := victim.sigterm(15 * time.Second); err != nil {
			fr.Error = err.Error()
		}
		fr.Detail = fmt.Sprintf("SIGTERM to %s, exited after %v", victim.url, time.Since(at).Round(time.Millisecond))
	}
	l.faultAt = at
	return fr
}

// maxDeliveryAfter is the worst confirm->delivery latency of confirms sent
// after t.
func (s *stats) maxDeliveryAfter(t time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m time.Duration
	for i, d := range s.latencies {
		if s.latAt[i].After(t) && d > m {
			m = d
		}
	}
	return float64(m.Microseconds()) / 1000
}
