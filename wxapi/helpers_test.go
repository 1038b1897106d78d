package wxapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// clock is a settable clock shared by the client and the fake, so expiry is
// tested without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// seen is one request as the fake received it.
type seen struct {
	Method, Path, ContentType string
	Query                     url.Values
	Body                      []byte
	RespContentType           string
}

// recorder sits in front of the fake and keeps every request, so tests
// assert what the client really sent.
type recorder struct {
	h  http.Handler
	mu sync.Mutex
	rs []seen
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rw := httptest.NewRecorder()
	rec.h.ServeHTTP(rw, r)
	for k, v := range rw.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rw.Code)
	_, _ = w.Write(rw.Body.Bytes())
	rec.mu.Lock()
	rec.rs = append(rec.rs, seen{
		Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"),
		Query: r.URL.Query(), Body: body, RespContentType: rw.Header().Get("Content-Type"),
	})
	rec.mu.Unlock()
}

// last returns the last request to path.
func (rec *recorder) last(t *testing.T, path string) seen {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.rs) - 1; i >= 0; i-- {
		if rec.rs[i].Path == path {
			return rec.rs[i]
		}
	}
	t.Fatalf("no request to %s", path)
	return seen{}
}

// logBuf collects log output to check that nothing secret is logged.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	fake  *wxfake.Fake
	rec   *recorder
	srv   *httptest.Server
	cl    *wxapi.Client
	clock *clock
	logs  *logBuf
}

// setup starts a fake behind a recorder and a client pointed at it, both on
// one test clock. mod may adjust either config.
func setup(t *testing.T, mod func(*wxfake.Options, *wxapi.Config)) *env {
	t.Helper()
	e := &env{clock: newClock(), logs: &logBuf{}}
	opts := wxfake.Options{AppID: "wx1234567890abcdef", Secret: "s3cr3t-app-secret", Now: e.clock.Now}
	cfg := wxapi.Config{
		Timeout: 2 * time.Second,
		Now:     e.clock.Now,
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opts, &cfg)
	}
	e.fake = wxfake.New(opts)
	e.rec = &recorder{h: e.fake}
	e.srv = httptest.NewServer(e.rec)
	t.Cleanup(func() {
		_ = e.fake.Close()
		e.srv.Close()
	})
	cfg.AppID, cfg.Secret, cfg.BaseURL = e.fake.AppID(), e.fake.Secret(), e.srv.URL+"/"
	cl, err := wxapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.cl = cl
	return e
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	return m
}
