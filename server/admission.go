package server

// Admission control: what an overloaded instance does first, and what it
// refuses (docs/ARCHITECTURE.md#overload).
//
// At most Limit requests work at once; long polls, health checks and
// static files take no slot. Work on a sign-in under way (scan, confirm,
// redeem, ...) may use every slot, new work (a scene, a mini-program
// login, ...) only half of them, so the other half is always there for a
// sign-in that has begun. A request that finds no slot for its class waits
// in its class's line, and a freed slot goes to the high line first. New
// work waits at most LowWait, and is refused on arrival while the line's
// oldest request has waited longer than that; work under way waits up to
// HighWait. A refusal is 503 overloaded with Retry-After.
//
// The signal is the number of requests at work and the age of the line:
// the queue that Go's runtime does not show. When this instance's CPU or
// its calls to Redis slow down, requests hold their slots longer, new work
// runs out of its half first, and scenes and logins are refused before a
// scan, confirm or redeem waits.

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scanlogin/scanlogin/server/oidcop"
)

// AdmissionConfig bounds the requests an instance works on at once
// (SCANLOGIN_ADMISSION, README.md's configuration table).
type AdmissionConfig struct {
	// Limit is how many requests may work at once, new work at most half
	// of them; polls, health checks and static files are not counted.
	// Negative: admission control off. 0: the default, 128 per core
	// (GOMAXPROCS), measured in docs/BENCHMARKS.md.
	Limit int
	// LowWait is how long new work (a scene, its code, a mini-program
	// login, a profile) may wait for a slot before it is refused. 0: 100 ms.
	LowWait time.Duration
	// HighWait is how long work on a sign-in under way (scan, confirm,
	// redeem, the OpenID code exchange) or on an existing session may wait.
	// 0: 5 s.
	HighWait time.Duration
}

// Defaults of AdmissionConfig, and the refusal.
const (
	admissionPerCore       = 128
	defaultAdmissionLow    = 100 * time.Millisecond
	defaultAdmissionHigh   = 5 * time.Second
	admissionMaxWait       = 30 * time.Second
	shedLogEvery           = 10 * time.Second
	shedRetryAfter         = time.Second
	admissionOff           = -1
	admissionDisabledLabel = "off"
)

// withDefaults fills unset fields.
func (a AdmissionConfig) withDefaults() AdmissionConfig {
	if a.Limit == 0 {
		a.Limit = admissionPerCore * runtime.GOMAXPROCS(0)
	}
	if a.LowWait == 0 {
		a.LowWait = defaultAdmissionLow
	}
	if a.HighWait == 0 {
		a.HighWait = defaultAdmissionHigh
	}
	return a
}

// check refuses waits out of range (ParseAdmission never makes them).
func (a AdmissionConfig) check() error {
	if a.LowWait < 0 || a.HighWait < 0 || a.LowWait > admissionMaxWait || a.HighWait > admissionMaxWait {
		return fmt.Errorf("server: Admission: waits must be 0 (the default) to %s", admissionMaxWait)
	}
	return nil
}

// ParseAdmission reads SCANLOGIN_ADMISSION: "off", or any of
// "limit=256,low_wait=100ms,high_wait=5s" (unnamed settings keep their
// defaults; "" is all defaults).
func ParseAdmission(s string) (AdmissionConfig, error) {
	var a AdmissionConfig
	s = strings.TrimSpace(s)
	if s == admissionDisabledLabel {
		return AdmissionConfig{Limit: admissionOff}, nil
	}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100000 {
				return a, fmt.Errorf("limit: want 1 to 100000 requests, got %q", v)
			}
			a.Limit = n
		case "low_wait", "high_wait":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > admissionMaxWait {
				return a, fmt.Errorf("%s: want a duration above 0 and at most 30s, got %q", k, v)
			}
			if k == "low_wait" {
				a.LowWait = d
			} else {
				a.HighWait = d
			}
		default:
			return a, fmt.Errorf("want off or limit=N,low_wait=D,high_wait=D, got %q", part)
		}
	}
	return a, nil
}

// priority is a request's place in line.
type priority int

const (
	// high: work on a sign-in under way, or on a session that exists.
	high priority = iota
	// low: new work, which can wait a second.
	low
	// exempt: never waits and is never refused (long polls, health checks,
	// static files, preflights).
	exempt
)

func (p priority) String() string {
	switch p {
	case high:
		return "high"
	case low:
		return "low"
	}
	return "exempt"
}

// routeClasses gives every route its class, by "METHOD path" (Echo's
// pattern) or, for every method of a path, by path alone.
// TestAdmissionClassifiesEveryRoute fails when a route is missing; one
// missing here is exempt.
var routeClasses = map[string]priority{
	// A sign-in under way: a scene that was created, then scanned.
	"POST /api/v1/qr/:scene/scan":    high,
	"POST /api/v1/qr/:scene/confirm": high,
	"POST /api/v1/qr/:scene/cancel":  high,
	"DELETE /api/v1/qr/:scene":       high,
	"POST /api/v1/qr/:scene/redeem":  high,
	"GET /api/v1/avatars/:id":        high, // the scanner's picture on the browser's page
	"POST " + oidcop.PathToken:       high, // the client's code exchange (and its refreshes)
	"GET " + oidcop.PathCallback:     high, // back to the client after the redeem
	"GET " + oidcop.PathUserinfo:     high,
	"POST " + oidcop.PathUserinfo:    high,
	// A session that exists is kept or ended without delay.
	"POST /api/v1/session/refresh":   high,
	"POST /api/v1/session/logout":    high,
	"DELETE /api/v1/mp/sessions/:id": high,
	"POST " + oidcop.PathRevoke:      high,
	"GET " + oidcop.PathEndSession:   high,
	"POST " + oidcop.PathEndSession:  high,
	"POST " + oidcop.PathIntrospect:  high,
	// New work, which can wait a second.
	"POST /api/v1/qr":                      low,
	"GET /api/v1/qr/:scene/image":          low,
	"GET " + routeSceneLink:                low,
	"POST /api/v1/mp/login":                low, // a scan may carry its wx.login code instead
	"GET /api/v1/mp/me":                    low,
	"PUT /api/v1/mp/me":                    low,
	"PATCH /api/v1/mp/me":                  low,
	"POST " + routeAvatarUpload:            low,
	"POST /api/v1/mp/me/phone":             low,
	"GET /api/v1/mp/sessions":              low,
	"GET /api/v1/me":                       low,
	"GET " + oidcop.PathAuthorize:          low,
	"POST " + oidcop.PathAuthorize:         low,
	"GET " + oidcop.PathLogin:              low,
	"GET " + oidcop.PathLoginInfo:          low,
	"GET " + oidcop.PathDevRP:              low,
	"GET " + oidcop.PathDevRP + "callback": low,
	// The long poll (below); operations, documents and files: cheap, and
	// needed most when busy.
	"GET /api/v1/qr/:scene/state": exempt,
	"GET " + oidcop.PathLoggedOut: exempt,
	"GET " + oidcop.PathDiscovery: exempt,
	"GET /healthz":                exempt,
	"HEAD /healthz":               exempt,
	"GET /readyz":                 exempt,
	"HEAD /readyz":                exempt,
	"GET /metrics":                exempt,
	"GET /openapi.json":           exempt,
	"GET /.well-known/jwks.json":  exempt,
	"GET /api/v1/config":          exempt,
	"GET /":                       exempt,
	"HEAD /":                      exempt,
	"GET /scanlogin.js":           exempt,
	"GET /static/*":               exempt,
	"GET /dev/phone":              exempt,
	"/dev/wechat/*":               exempt, // stands for WeChat, another service
}

// The long poll is exempt: while it waits it costs no CPU and no Redis
// (docs/ARCHITECTURE.md#waiting), its active part is one read per change,
// and there is at most one per browser. Refusing it would only make the
// browser ask again, and it is what delivers the confirms of sign-ins
// under way.

// classify is a request's class; OPTIONS and unknown routes (404, 405, the
// link mode's landing page) are exempt.
func classify(method, route string) priority {
	if method == http.MethodOptions {
		return exempt
	}
	if p, ok := routeClasses[method+" "+route]; ok {
		return p
	}
	if p, ok := routeClasses[route]; ok {
		return p
	}
	return exempt
}

// Why a request was refused, the reason label of scanlogin_shed_total.
const (
	// reasonQueue: new work, refused on arrival because the line is
	// standing: its oldest request has waited longer than LowWait already.
	reasonQueue = "queue"
	// reasonTimeout: no slot within the class's patience.
	reasonTimeout = "timeout"
	// reasonGone: the client left while waiting; not a shed.
	reasonGone = "gone"
)

// errShed is the answer to a refused request: the overloaded 503 of
// docs/ARCHITECTURE.md#errors, counted and logged by the gate rather than
// per request.
var errShed = &Error{Status: http.StatusServiceUnavailable, Code: codeOverloaded, Message: "the server is busy, retry shortly", RetryAfter: shedRetryAfter}

// gate hands out the slots. Work on a sign-in under way may use all of
// them; new work only half, so that the other half is always there for a
// scan, confirm or redeem however much new work arrives. Each class waits
// in its own line, oldest first, and a freed slot goes to the high line
// first.
type gate struct {
	cfg      AdmissionConfig
	lowLimit int // slots new work may hold: half of Limit
	log      *slog.Logger
	metrics  *admissionMetrics
	logEvery time.Duration // shedLogEvery

	mu      sync.Mutex
	active  int            // slots held
	waiting [2]list.List   // *waiter by priority (high, low), oldest first
	shed    map[string]int // since the last log line, by "class_reason"
	report  *time.Timer    // the next log line, while requests are shed
	closed  bool
}

type waiter struct {
	ready   chan struct{}
	since   time.Time
	granted bool // under gate.mu
}

func newGate(cfg AdmissionConfig, log *slog.Logger, m *admissionMetrics) *gate {
	m.limit.Set(float64(cfg.Limit))
	return &gate{cfg: cfg, lowLimit: max(cfg.Limit/2, 1), log: log, metrics: m, logEvery: shedLogEvery, shed: map[string]int{}}
}

// fits reports whether a request of class p may take a slot now: one is
// free to its class, and nobody of its class or above is waiting. Call
// with g.mu held.
func (g *gate) fits(p priority) bool {
	if p == high {
		return g.active < g.cfg.Limit && g.waiting[high].Len() == 0
	}
	return g.active < g.lowLimit && g.waiting[high].Len() == 0 && g.waiting[low].Len() == 0
}

// acquire takes a slot for a request of class p (high or low), waiting at
// most the class's patience. It returns "" with the slot taken, or why
// not: reasonQueue, reasonTimeout or reasonGone.
func (g *gate) acquire(ctx context.Context, p priority) string {
	g.mu.Lock()
	if g.fits(p) {
		g.active++
		g.metrics.active.Set(float64(g.active))
		g.mu.Unlock()
		return ""
	}
	now := time.Now()
	if p == low && g.standing(now) {
		g.mu.Unlock()
		return reasonQueue
	}
	w := &waiter{ready: make(chan struct{}), since: now}
	el := g.waiting[p].PushBack(w)
	g.metrics.waiting[p].Inc()
	g.mu.Unlock()

	patience := g.cfg.HighWait
	if p == low {
		patience = g.cfg.LowWait
	}
	t := time.NewTimer(patience)
	defer t.Stop()
	reason := reasonTimeout
	select {
	case <-w.ready:
		return ""
	case <-t.C:
	case <-ctx.Done():
		reason = reasonGone
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.granted {
		// The slot came as we gave up.
		if reason == reasonGone {
			g.releaseLocked()
			return reasonGone
		}
		return ""
	}
	g.waiting[p].Remove(el)
	g.metrics.waiting[p].Dec()
	return reason
}

// standing reports whether the line's oldest request has waited longer
// than new work may: then new work would wait in vain. Call with g.mu held.
func (g *gate) standing(now time.Time) bool {
	for p := range g.waiting {
		if el := g.waiting[p].Front(); el != nil && now.Sub(el.Value.(*waiter).since) > g.cfg.LowWait {
			return true
		}
	}
	return false
}

// release gives a slot back: to the oldest high waiter, else to the oldest
// low one if new work may have it, else free.
func (g *gate) release() {
	g.mu.Lock()
	g.releaseLocked()
	g.mu.Unlock()
}

func (g *gate) releaseLocked() {
	g.active--
	for _, p := range []priority{high, low} {
		el := g.waiting[p].Front()
		if el == nil || (p == low && g.active >= g.lowLimit) {
			continue
		}
		w := g.waiting[p].Remove(el).(*waiter)
		g.metrics.waiting[p].Dec()
		w.granted = true
		close(w.ready)
		g.active++
		break
	}
	g.metrics.active.Set(float64(g.active))
}

// refused counts a shed request; the log gets one line per shedLogEvery
// while requests are being shed, never one per request.
func (g *gate) refused(p priority, route, reason string) {
	g.metrics.shed.WithLabelValues(p.String(), route, reason).Inc()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shed[p.String()+"_"+reason]++
	if g.report == nil && !g.closed {
		g.report = time.AfterFunc(g.logEvery, g.logShed)
	}
}

func (g *gate) logShed() {
	g.mu.Lock()
	shed := g.shed
	g.shed = map[string]int{}
	g.report = nil
	active, waitingHigh, waitingLow := g.active, g.waiting[high].Len(), g.waiting[low].Len()
	g.mu.Unlock()
	g.log.Warn("overloaded: requests shed", "interval", g.logEvery,
		"high_timeout", shed["high_timeout"], "low_queue", shed["low_queue"], "low_timeout", shed["low_timeout"],
		"limit", g.cfg.Limit, "active", active, "waiting_high", waitingHigh, "waiting_low", waitingLow)
}

// close stops the pending log line (the Server is closing).
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.report != nil {
		g.report.Stop()
		g.report = nil
	}
}

// ticket is a request's slot. A request gives it up while it waits for
// WeChat (stepOutTransport), whose latency is not this instance's load, and
// takes one again, as high, when WeChat has answered.
type ticket struct {
	g        *gate
	mu       sync.Mutex
	held     bool
	finished bool
}

type ticketKey struct{}

func (t *ticket) leave() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.held {
		return false
	}
	t.held = false
	t.g.release()
	return true
}

// reenter takes a slot again. A request that finds none within HighWait
// goes on without one: its WeChat call is paid for, and it is nearly done.
func (t *ticket) reenter(ctx context.Context) {
	if t.g.acquire(ctx, high) != "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		// A goroutine of the request's (wxapi's shared token fetch) outlived it.
		t.g.release()
		return
	}
	t.held = true
}

func (t *ticket) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finished = true
	if t.held {
		t.held = false
		t.g.release()
	}
}

// stepOutTransport lets a request's slot go while the request waits for
// WeChat (Metrics.WeChatHTTPClient): a slow WeChat must not make this
// instance refuse work its CPU and Redis could do.
type stepOutTransport struct{ next http.RoundTripper }

func (s stepOutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t, ok := req.Context().Value(ticketKey{}).(*ticket); ok && t.leave() {
		defer t.reenter(req.Context())
	}
	return s.next.RoundTrip(req)
}

// admission is the middleware: it classifies the request, reads its body
// (so that a client sending it slowly holds no slot meanwhile), takes a
// slot, and answers 503 overloaded when none comes in time.
func (s *Server) admission(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p := classify(r.Method, c.Path())
		if p == exempt {
			return next(c)
		}
		readBody(r)
		ctx := r.Context()
		switch reason := s.gate.acquire(ctx, p); reason {
		case "":
		case reasonGone:
			return context.Cause(ctx)
		default:
			s.gate.refused(p, routeLabel(c), reason)
			c.Set(shedKey, true)
			return s.shedAnswer(c)
		}
		t := &ticket{g: s.gate, held: true}
		defer t.done()
		c.SetRequest(r.WithContext(context.WithValue(ctx, ticketKey{}, t)))
		return next(c)
	}
}

// shedKey marks a refused request in its echo.Context. The access log
// leaves it out: under overload a line per refusal would spend on the log
// what the work under way needs; the gate logs refusals once per interval
// and scanlogin_http_requests_total still counts them.
const shedKey = "scanlogin_shed"

func wasShed(c echo.Context) bool { return c.Get(shedKey) != nil }

// shedAnswer is a refusal in the shape the route speaks: the OpenID
// provider's for its endpoints, an error page for a browser opening the
// link, the API's error body otherwise.
func (s *Server) shedAnswer(c echo.Context) error {
	r := c.Request()
	switch route := c.Path(); {
	case s.opts.OIDC != nil && (strings.HasPrefix(route, "/oidc/") || strings.HasPrefix(route, oidcop.PathDevRP)):
		s.opts.OIDC.Busy(c.Response(), r, retryAfterSeconds(shedRetryAfter))
		return nil
	case route == routeSceneLink && wantsHTML(r):
		return s.errorPage(c, errShed)
	}
	return errShed
}

// readBody reads a request's body (already bounded by bodyLimit) into
// memory. A read error reaches the handler where it reads the body.
func readBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(r.Body)
	var rest io.Reader = &buf
	if err != nil {
		rest = io.MultiReader(&buf, errReader{err})
	}
	r.Body = readCloser{rest, r.Body}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type readCloser struct {
	io.Reader
	io.Closer
}

// routeSceneLink answers a browser that navigates to it with a page.
const routeSceneLink = "/api/v1/qr/:scene/link"

// admissionMetrics are the gate's series.
type admissionMetrics struct {
	shed       *prometheus.CounterVec
	active     prometheus.Gauge
	limit      prometheus.Gauge
	waitingVec *prometheus.GaugeVec
	waiting    [2]prometheus.Gauge // by priority
}

func newAdmissionMetrics() *admissionMetrics {
	waiting := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scanlogin_admission_waiting",
		Help: "Requests waiting for a slot, by class (high: a sign-in under way or a session that exists; low: new work).",
	}, []string{"class"})
	return &admissionMetrics{
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scanlogin_shed_total",
			Help: "Requests refused with 503 overloaded by admission control, by class, route pattern and reason (queue: new work refused on arrival, the line's oldest request having waited longer than low_wait; timeout: no slot within the class's wait).",
		}, []string{"class", "route", "reason"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scanlogin_admission_active",
			Help: "Requests holding a slot (long polls, health checks and static files take none).",
		}),
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scanlogin_admission_limit",
			Help: "Slots: requests that may work at once (0: admission control off).",
		}),
		waitingVec: waiting,
		waiting:    [2]prometheus.Gauge{waiting.WithLabelValues("high"), waiting.WithLabelValues("low")},
	}
}

func (m *admissionMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.shed, m.active, m.limit, m.waitingVec}
}
