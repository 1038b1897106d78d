//go:build !webfake

package web_test

import (
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// serverOptions are the knobs the browser tests turn on the real server.
type serverOptions struct {
	SceneTTL       time.Duration
	NumberMatch    bool
	AllowedOrigins []string
}

type testServer struct{ URL string }

// startServer starts the real server in dev mode (real Redis, fake WeChat)
// for one test. It checks for Chromium first, so a machine without a
// browser skips before starting anything.
func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	chromium(t)
	inst := servertest.Start(t, servertest.Options{
		SceneTTL:       o.SceneTTL,
		NumberMatch:    o.NumberMatch,
		AllowedOrigins: o.AllowedOrigins,
	})
	return &testServer{URL: inst.URL}
}
