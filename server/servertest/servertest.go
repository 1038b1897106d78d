// Package servertest starts complete dev-mode scanlogin servers for tests:
// the real HTTP server on a loopback port, a private real redis-server (or
// a given Redis URL, so several instances can share one), a database of
// users (a SQLite file in a temporary directory, or a given database URL:
// a private PostgreSQL from sqlstoretest for tests about several instances
// or durability), the fake WeChat mounted at /dev/wechat/, all assembled by
// cmd/scanlogin/app exactly as `go run ./cmd/scanlogin` assembles them.
//
// Browser, mini-program and multi-instance tests use it to talk HTTP to the
// real thing.
package servertest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// Options tune an Instance; every field is optional.
type Options struct {
	// RedisURL: use this Redis (for example another Instance's
	// Redis.URL()) instead of starting a private redis-server.
	RedisURL string
	// DatabaseURL: use this database (postgres:// or sqlite://, for
	// example another Instance's DatabaseURL) instead of a fresh SQLite
	// file in a temporary directory.
	DatabaseURL string

	SceneTTL       time.Duration // default 120s
	ConfirmWindow  time.Duration // default 60s
	HardCap        time.Duration // default 5m
	RedeemWindow   time.Duration // default 60s
	AccessTokenTTL time.Duration // default 15m
	// RefreshReuseWindow: how long a rotated refresh token still answers
	// with its successor; default 10s.
	RefreshReuseWindow time.Duration
	NumberMatch        bool
	SiteName           string
	AllowedOrigins     []string
	TrustedProxies     []*net.IPNet
	// Limits: zero means servertest's defaults, which are high enough that
	// ordinary tests never meet them.
	Limits app.Limits
	// Admission: zero means servertest's default, a limit no functional
	// test reaches; tests of admission control set their own.
	Admission server.AdmissionConfig
	// Logger receives the server's logs; default: discarded.
	Logger *slog.Logger
	// Now is the server's clock; default time.Now.
	Now func() time.Time
	// Config, when set, is used as the base configuration; the fields above
	// override its zero values only where they are set.
	Config *app.Config
	// RedisHook, when set, is added to the instance's Redis client before
	// the server starts: it sees every call the server makes (tests that
	// count them).
	RedisHook redis.Hook
}

// Instance is one running server.
type Instance struct {
	URL    string                // http://127.0.0.1:port, no trailing slash
	Redis  *scanlogintest.Server // the private redis-server; nil with Options.RedisURL
	Client redis.UniversalClient // a client of the Redis the instance uses
	// DatabaseURL is the database of users the instance uses; Store is the
	// instance's own handle on it.
	DatabaseURL string
	Store       *sqlstore.Store
	Fake        *wxfake.Fake      // the fake WeChat the instance talks to
	Engine      *scanlogin.Engine // the instance's engine
	Server      *server.Server    // the instance's server
	App         *app.App          // the whole assembly

	cancel context.CancelFunc
	done   chan error
}

// testAdmission lets far more requests work at once than a functional test
// sends, so that only tests of admission control see a request shed.
var testAdmission = server.AdmissionConfig{Limit: 100000}

// testLimits are far above what a functional test does but still finite.
var testLimits = app.Limits{CreatePerIP: 100000, LoginPerIP: 100000, ScanPerUser: 100000, PollPerScene: 100000}

// Start starts an Instance and closes it when the test ends.
func Start(tb testing.TB, opts Options) *Instance {
	tb.Helper()
	inst := &Instance{}
	redisURL := opts.RedisURL
	if redisURL == "" {
		inst.Redis = scanlogintest.Start(tb)
		redisURL = inst.Redis.URL()
	}
	rdb, err := app.OpenRedis(redisURL)
	if err != nil {
		tb.Fatalf("servertest: redis: %v", err)
	}
	inst.Client = rdb
	if opts.RedisHook != nil {
		rdb.AddHook(opts.RedisHook)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("servertest: listen: %v", err)
	}
	inst.URL = "http://" + ln.Addr().String()

	var cfg app.Config
	if opts.Config != nil {
		cfg = *opts.Config
	}
	cfg.Addr = ln.Addr().String()
	cfg.PublicURL = inst.URL
	cfg.RedisURL = redisURL
	switch {
	case opts.DatabaseURL != "":
		cfg.DatabaseURL = opts.DatabaseURL
	case cfg.DatabaseURL == "":
		cfg.DatabaseURL = "sqlite://" + filepath.Join(tb.TempDir(), "scanlogin.db")
	}
	inst.DatabaseURL = cfg.DatabaseURL
	setDur(&cfg.SceneTTL, opts.SceneTTL)
	setDur(&cfg.ConfirmWindow, opts.ConfirmWindow)
	setDur(&cfg.HardCap, opts.HardCap)
	setDur(&cfg.RedeemWindow, opts.RedeemWindow)
	setDur(&cfg.AccessTokenTTL, opts.AccessTokenTTL)
	setDur(&cfg.RefreshReuseWindow, opts.RefreshReuseWindow)
	cfg.NumberMatch = cfg.NumberMatch || opts.NumberMatch
	if opts.SiteName != "" {
		cfg.SiteName = opts.SiteName
	}
	if opts.AllowedOrigins != nil {
		cfg.AllowedOrigins = opts.AllowedOrigins
	}
	if opts.TrustedProxies != nil {
		cfg.TrustedProxies = opts.TrustedProxies
	}
	switch {
	case opts.Limits != (app.Limits{}):
		cfg.Limits = opts.Limits
	case cfg.Limits == (app.Limits{}):
		cfg.Limits = testLimits
	}
	switch {
	case opts.Admission != (server.AdmissionConfig{}):
		cfg.Admission = opts.Admission
	case cfg.Admission == (server.AdmissionConfig{}):
		cfg.Admission = testAdmission
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Deps{Redis: rdb, Logger: logger, SelfURL: inst.URL, Now: opts.Now})
	if err != nil {
		cancel()
		_ = ln.Close()
		_ = rdb.Close()
		tb.Fatalf("servertest: %v", err)
	}
	inst.Server, inst.Engine, inst.Fake, inst.Store, inst.App = a.Server, a.Engine, a.Fake, a.Store, a
	inst.cancel = cancel
	inst.done = make(chan error, 1)
	go func() { inst.done <- a.Run(ctx, ln) }()
	tb.Cleanup(inst.Close)
	if err := waitHealthy(inst.URL); err != nil {
		tb.Fatalf("servertest: %v", err)
	}
	return inst
}

func setDur(dst *time.Duration, v time.Duration) {
	if v != 0 {
		*dst = v
	}
}

func waitHealthy(base string) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("the server did not become healthy within 5s")
}

// Close shuts the instance down gracefully (waiting polls get answers) and
// waits until it has stopped. Safe to call more than once.
func (i *Instance) Close() {
	if i.cancel == nil {
		return
	}
	i.cancel()
	<-i.done
	i.cancel = nil
	_ = i.Client.Close()
}

// MintCode returns a wx.login code for openID, as the mini-program would get
// it (nickname optional).
func (i *Instance) MintCode(tb testing.TB, openID, nickname string) string {
	tb.Helper()
	code, err := i.Fake.MintCode(context.Background(), openID, nickname)
	if err != nil {
		tb.Fatalf("servertest: mint code: %v", err)
	}
	return code
}
