package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus series served at /metrics. Each Server has its
// own registry so that several servers can live in one test process.
type Metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	waitingPolls prometheus.Gauge
	transitions  *prometheus.CounterVec
	wechatCalls  *prometheus.CounterVec
	overloaded   *prometheus.CounterVec
	admission    *admissionMetrics
	db           dbMetrics
}

// NewMetrics returns a fresh registry with every series of the server.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scanlogin_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scanlogin_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern and method (long polls included).",
			// Long polls last up to 30 s, so the buckets reach that far.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 35},
		}, []string{"route", "method"}),
		waitingPolls: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scanlogin_waiting_polls",
			Help: "Long polls currently waiting for a scene to change.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scanlogin_scene_transitions_total",
			Help: "Scene transition attempts by action (create, scan, confirm, cancel, redeem) and outcome (ok or the error code).",
		}, []string{"action", "outcome"}),
		wechatCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scanlogin_wechat_calls_total",
			Help: "Calls to the WeChat API by api and errcode (0 = success, unavailable = transport failure).",
		}, []string{"api", "errcode"}),
		overloaded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scanlogin_overloaded_total",
			Help: "Requests answered 503 overloaded by route pattern: a call to a healthy Redis or database did not finish in time (it queued for a connection or a CPU). A store that is down is 503 unavailable instead.",
		}, []string{"route"}),
	}
	m.db = newDBMetrics()
	m.admission = newAdmissionMetrics()
	m.registry.MustRegister(m.admission.collectors()...)
	m.registry.MustRegister(m.requests, m.latency, m.waitingPolls, m.transitions, m.wechatCalls, m.overloaded, m.db.calls, m.db.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts a request by its route pattern (never the raw path, which
// would make one series per scene).
func (m *Metrics) observe(c echo.Context, took time.Duration, err error) {
	route := routeLabel(c)
	status := c.Response().Status
	if err != nil {
		status = errorFor(err).Status
	}
	method := c.Request().Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "OTHER" // clients choose methods; series must stay bounded
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(took.Seconds())
}

// routeLabel is the route pattern of a request, for labels.
func routeLabel(c echo.Context) string {
	if route := c.Path(); route != "" {
		return route
	}
	return "unmatched"
}

// transition records the outcome of one state-machine action.
func (m *Metrics) transition(action string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = errorFor(err).Code
	}
	m.transitions.WithLabelValues(action, outcome).Inc()
}

// wechatTransport counts every HTTP call to WeChat (retries and access
// token fetches included) by API and errcode. WeChat answers errors with
// HTTP 200 and a JSON errcode, so the body is peeked at; an image or a JSON
// body without errcode is a success (0), a transport failure "unavailable".
type wechatTransport struct {
	next  http.RoundTripper
	calls *prometheus.CounterVec
}

func (t *wechatTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	api := path.Base(req.URL.Path)
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.calls.WithLabelValues(api, "unavailable").Inc()
		return nil, err
	}
	code := "0"
	if strings.Contains(resp.Header.Get("Content-Type"), "json") || strings.Contains(resp.Header.Get("Content-Type"), "text/plain") {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if rerr != nil {
			t.calls.WithLabelValues(api, "unavailable").Inc()
			return nil, rerr
		}
		var e struct {
			Errcode *int `json:"errcode"`
		}
		if json.Unmarshal(body, &e) == nil && e.Errcode != nil {
			code = strconv.Itoa(*e.Errcode)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	if resp.StatusCode >= 500 {
		code = "http_" + strconv.Itoa(resp.StatusCode)
	}
	t.calls.WithLabelValues(api, code).Inc()
	return resp, nil
}

// WeChatHTTPClient is the client for wxapi: sane timeouts, a request's
// admission slot given up while it waits for WeChat (admission.go), and every call
// counted in scanlogin_wechat_calls_total.
func (m *Metrics) WeChatHTTPClient() *http.Client {
	return &http.Client{Transport: &wechatTransport{
		calls: m.wechatCalls,
		next: stepOutTransport{&http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   32,
			ForceAttemptHTTP2:     true,
		}},
	}}
}
