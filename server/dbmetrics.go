package server

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// DBPoolStats is the state of the database's connection pool, as the
// composition root reads it from the store (sqlstore.Store.Stats).
type DBPoolStats struct {
	MaxOpen, Open, InUse, Idle int
	// WaitCount and WaitDuration are totals: calls that waited for a free
	// connection, and how long they waited.
	WaitCount    int64
	WaitDuration time.Duration
}

// dbMetrics are the database's series: every call by operation (latency,
// failures) and the connection pool.
type dbMetrics struct {
	calls  *prometheus.HistogramVec
	errors *prometheus.CounterVec
}

func newDBMetrics() dbMetrics {
	return dbMetrics{
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scanlogin_db_call_duration_seconds",
			Help: "Calls to the database (users, avatars, sign-in history) by operation, whatever their outcome.",
			// A call is bounded by the store's timeout (1.5 s).
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2},
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scanlogin_db_errors_total",
			Help: "Failed database calls by operation and kind: unavailable (down, hung, or timed out with nothing answered meanwhile), overloaded (timed out while the database answered other calls: waiting for a connection or a CPU) or error (refused by the database: a bug). Not-found answers are not errors.",
		}, []string{"op", "kind"}),
	}
}

// ObserveDB records one database call: it is the store's Observe hook
// (sqlstore.Config.Observe).
func (m *Metrics) ObserveDB(op string, took time.Duration, err error) {
	m.db.calls.WithLabelValues(op).Observe(took.Seconds())
	switch {
	case err == nil, errors.Is(err, scanlogin.ErrUserNotFound), errors.Is(err, scanlogin.ErrAvatarNotFound),
		errors.Is(err, context.Canceled):
	case errors.Is(err, scanlogin.ErrUnavailable):
		m.db.errors.WithLabelValues(op, "unavailable").Inc()
	case errors.Is(err, scanlogin.ErrOverloaded):
		m.db.errors.WithLabelValues(op, "overloaded").Inc()
	default:
		m.db.errors.WithLabelValues(op, "error").Inc()
	}
}

// RegisterDBPool exports the connection pool's state, read at every scrape.
func (m *Metrics) RegisterDBPool(stats func() DBPoolStats) {
	gauge := func(name, help string, v func(DBPoolStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	counter := func(name, help string, v func(DBPoolStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(stats()) })
	}
	m.registry.MustRegister(
		gauge("scanlogin_db_pool_max_open_connections", "Most connections the pool opens.", func(s DBPoolStats) float64 { return float64(s.MaxOpen) }),
		gauge("scanlogin_db_pool_open_connections", "Connections open, in use or idle.", func(s DBPoolStats) float64 { return float64(s.Open) }),
		gauge("scanlogin_db_pool_in_use_connections", "Connections running a call.", func(s DBPoolStats) float64 { return float64(s.InUse) }),
		gauge("scanlogin_db_pool_idle_connections", "Connections open and idle.", func(s DBPoolStats) float64 { return float64(s.Idle) }),
		counter("scanlogin_db_pool_waits_total", "Calls that waited for a free connection.", func(s DBPoolStats) float64 { return float64(s.WaitCount) }),
		counter("scanlogin_db_pool_wait_seconds_total", "Time calls spent waiting for a free connection.", func(s DBPoolStats) float64 { return s.WaitDuration.Seconds() }),
	)
}
