package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
