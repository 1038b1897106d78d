package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestMiddlewareRecoversPanics: a handler that panics gets the API's 500
// without the panic's text, a log line with the request id, and is logged
// and counted like any other request; the process carries on.
func TestMiddlewareRecoversPanics(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil)), metrics: NewMetrics()}
	e := echo.New()
	e.HTTPErrorHandler = s.handleError
	s.middleware(e)
	e.GET("/boom", func(echo.Context) error { panic("secret detail") })
	e.GET("/fine", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "internal" {
		t.Fatalf("body %q: want the error shape with code internal (%v)", rec.Body, err)
	}
	if strings.Contains(rec.Body.String(), "secret detail") {
		t.Fatalf("the panic's text reached the client: %s", rec.Body)
	}
	id := rec.Header().Get(echo.HeaderXRequestID)
	var sawPanic, sawAccess bool
	for line := range strings.Lines(logs.String()) {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch l["msg"] {
		case "panic":
			sawPanic = l["request_id"] == id && id != ""
		case "http request":
			sawAccess = l["request_id"] == id && l["status"] == float64(500) && l["route"] == "/boom"
		}
	}
	if !sawPanic || !sawAccess {
		t.Errorf("want a panic line and an access line with status 500, both with request id %q:\n%s", id, logs.String())
	}
	if n := requestsCounted(t, s, "/boom", "500"); n != 1 {
		t.Errorf("scanlogin_http_requests_total for the panic: %v, want 1", n)
	}

	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/fine", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("after the panic: %d", rec.Code)
	}
}

// requestsCounted reads scanlogin_http_requests_total for a route and status.
func requestsCounted(t *testing.T, s *Server, route, status string) float64 {
	t.Helper()
	fams, err := s.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "scanlogin_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// recordingHandler keeps the records it is given, at Info and above.
type recordingHandler struct{ got []slog.Record }

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.got = append(h.got, r)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// TestLogAttrs: the access and audit lines' writer keeps level filtering,
// time and attributes as slog.Logger.LogAttrs does, and looks up no caller.
func TestLogAttrs(t *testing.T) {
	h := &recordingHandler{}
	l := slog.New(h)
	logAttrs(t.Context(), l, slog.LevelDebug, "hidden", slog.String("a", "b"))
	before := time.Now()
	logAttrs(t.Context(), l, slog.LevelWarn, "audit", slog.String("action", "scan"), slog.Int("status", 200))
	if len(h.got) != 1 {
		t.Fatalf("%d records, want 1 (the debug one filtered)", len(h.got))
	}
	r := h.got[0]
	var attrs []string
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a.String()); return true })
	if r.Message != "audit" || r.Level != slog.LevelWarn || r.Time.Before(before) || r.PC != 0 ||
		strings.Join(attrs, " ") != "action=scan status=200" {
		t.Fatalf("record %q %v at %v pc %x attrs %v", r.Message, r.Level, r.Time, r.PC, attrs)
	}
}

// BenchmarkAccessLine: the access line through the redaction handler and
// slog's JSON handler, as slog.Logger.LogAttrs writes it and as logAttrs
// does (no caller lookup).
func BenchmarkAccessLine(b *testing.B) {
	l := slog.New(NewRedactHandler(slog.NewJSONHandler(io.Discard, nil)))
	attrs := []slog.Attr{
		slog.String("request_id", "0123456789abcdef01234567"), slog.String("method", "POST"), slog.String("proto", "HTTP/1.1"),
		slog.String("route", "/api/v1/qr/:scene/scan"), slog.String("path", "/api/v1/qr/0123456789abcdef0123456789abcdef/scan"),
		slog.Int("status", 200), slog.Duration("duration", 1234567), slog.String("ip", "203.0.113.9"),
	}
	ctx := context.Background()
	b.Run("LogAttrs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.LogAttrs(ctx, slog.LevelInfo, "http request", attrs...)
		}
	})
	b.Run("logAttrs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			logAttrs(ctx, l, slog.LevelInfo, "http request", attrs...)
		}
	})
}
