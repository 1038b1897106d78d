package server

import (
	"errors"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scanlogin/scanlogin/wxapi"
)

// metrics are the Prometheus series served at /metrics. Each Server has its
// own registry so that several servers can live in one test process.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	waitingPolls prometheus.Gauge
	transitions  *prometheus.CounterVec
	wechatCalls  *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
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
	}
	m.registry.MustRegister(m.requests, m.latency, m.waitingPolls, m.transitions, m.wechatCalls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// middleware counts every request by its route pattern (never the raw path,
// which would make one series per scene).
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		if err != nil {
			status = errorFor(err).Status
		}
		m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route, c.Request().Method).Observe(time.Since(start).Seconds())
		return err
	}
}

// transition records the outcome of one state-machine action.
func (m *metrics) transition(action string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = errorFor(err).Code
	}
	m.transitions.WithLabelValues(action, outcome).Inc()
}

// wechat records one WeChat call by its errcode.
func (m *metrics) wechat(api string, err error) {
	code := "0"
	var we *wxapi.Error
	switch {
	case err == nil:
	case errors.As(err, &we):
		code = strconv.Itoa(we.Code)
	case errors.Is(err, wxapi.ErrBadData):
		code = "bad_data"
	default:
		code = "unavailable"
	}
	m.wechatCalls.WithLabelValues(api, code).Inc()
}
