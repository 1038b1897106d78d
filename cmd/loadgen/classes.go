package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Requests by kind: what each step of a login got from the servers inside
// the measured window, so an overload run shows what was shed (503
// overloaded with Retry-After), what was rate-limited (429 with
// Retry-After), what failed, and how long the answers took. The kinds:
// create, poll and redeem (browsers), code, login, scan and confirm
// (phones). Scan, confirm and redeem are a login under way, which the
// servers serve before new scenes and logins when they are overloaded
// (docs/ARCHITECTURE.md#overload).

// kindStats is one kind's tally.
type kindStats struct {
	ok, shed, limited, failed int64
	took                      []time.Duration // answers 2xx-3xx
}

type kinds struct {
	mu sync.Mutex
	by map[string]*kindStats
}

// requestKind names a request by the step it stands for.
func requestKind(method, url string) string {
	path := url
	if i := strings.Index(path, "://"); i >= 0 {
		if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
			path = path[i+3+j:]
		}
	}
	path, _, _ = strings.Cut(path, "?")
	switch {
	case method == http.MethodPost && path == "/api/v1/qr":
		return "create"
	case strings.HasSuffix(path, "/state"):
		return "poll"
	case path == "/dev/wechat/login":
		return "code"
	case path == "/api/v1/mp/login":
		return "login"
	}
	return path[strings.LastIndexByte(path, '/')+1:] // redeem, scan, confirm
}

// record counts one answer (nil: a transport failure) that took d.
func (k *kinds) record(kind string, r *response, d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.by == nil {
		k.by = map[string]*kindStats{}
	}
	s := k.by[kind]
	if s == nil {
		s = &kindStats{}
		k.by[kind] = s
	}
	switch refusal(r) {
	case "shed":
		s.shed++
	case "limited":
		s.limited++
	default:
		if r != nil && r.status < 400 {
			s.ok++
			s.took = append(s.took, d)
		} else {
			s.failed++
		}
	}
}

// refusal tells the servers' ways of saying "not now" apart from
// failures: "shed" for 503 overloaded, "limited" for 429, both with
// Retry-After (the clients wait that long and try again); "" otherwise.
func refusal(r *response) string {
	if r == nil || r.retryAfter <= 0 {
		return ""
	}
	switch r.status {
	case http.StatusTooManyRequests:
		return "limited"
	case http.StatusServiceUnavailable:
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal(r.body, &e) == nil && e.Error.Code == "overloaded" {
			return "shed"
		}
	}
	return ""
}

// kindSummary is one kind's line of the summary.
type kindSummary struct {
	OK      int64   `json:"ok"`
	Shed    int64   `json:"shed_503_overloaded"`
	Limited int64   `json:"limited_429"`
	Failed  int64   `json:"failed"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

func (k *kinds) summary() map[string]kindSummary {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]kindSummary{}
	for name, s := range k.by {
		l := percentiles(s.took)
		out[name] = kindSummary{OK: s.ok, Shed: s.shed, Limited: s.limited, Failed: s.failed, P50: l.P50, P99: l.P99, Max: l.Max}
	}
	return out
}

// printKinds writes the per-kind table for people.
func printKinds(w io.Writer, by map[string]kindSummary) {
	order := []string{"create", "poll", "redeem", "code", "login", "scan", "confirm"}
	for name := range by {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	fmt.Fprintf(w, "loadgen: %-8s %8s %8s %8s %8s %9s %9s\n", "request", "ok", "shed", "429", "failed", "p50 ms", "p99 ms")
	for _, name := range order {
		if s, ok := by[name]; ok {
			fmt.Fprintf(w, "loadgen: %-8s %8d %8d %8d %8d %9.1f %9.1f\n", name, s.OK, s.Shed, s.Limited, s.Failed, s.P50, s.P99)
		}
	}
}
