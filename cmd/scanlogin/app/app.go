// Package app is scanlogin's composition root: the application's
// configuration (Config: the SCANLOGIN_* settings, their defaults and
// validation) and New, the one place that builds every dependency (the
// domain engine, the WeChat client, in dev mode the fake WeChat and the dev
// keys, the token issuer, the rate limiter, the metrics) and hands them to
// server.New. OpenRedis opens the Redis client they share.
//
// cmd/scanlogin runs it as the program (environment, logger, embedded Redis,
// listener, signals); server/servertest starts the very same assembly in
// tests. It lives under cmd/scanlogin because it is the program's wiring,
// and outside package main so that those tests can start it.
package app

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// Deps are what the process provides: the Redis client and the logger it
// made, its clock, and how it reaches its own listener.
type Deps struct {
	Redis  redis.UniversalClient // required; the App does not close it
	Logger *slog.Logger          // default: discard
	Now    func() time.Time      // default time.Now
	// SelfURL is a URL at which this process's own listener answers. In dev
	// mode the WeChat client talks to the fake mounted at SelfURL/dev/wechat.
	// Default: Config.PublicURL.
	SelfURL string
	Web     fs.FS // web assets; default web.FS
}

// App is one assembled scanlogin: the HTTP server and the parts tests and
// the program look at.
type App struct {
	Config Config // effective: defaults filled in, the dev issuer resolved
	Server *server.Server
	Engine *scanlogin.Engine
	Fake   *wxfake.Fake // the fake WeChat of dev mode; nil with real credentials
}

// The credentials of the fake WeChat in dev mode.
const (
	devAppID  = "wxdev0000scanlogin"
	devSecret = "dev-mode-secret-not-secret"
)

// New validates cfg (after WithDefaults) and builds every part on
// deps.Redis. In dev mode (no WeChat credentials) the signing key, the
// issuer and the session-key secret are shared through Redis by every dev
// instance on it, so that they verify each other's tokens.
func New(ctx context.Context, cfg Config, deps Deps) (*App, error) {
	explicitIssuer := cfg.Issuer != ""
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Redis == nil {
		return nil, fmt.Errorf("app: Redis is required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	selfURL := deps.SelfURL
	if selfURL == "" {
		selfURL = cfg.PublicURL
	}
	rdb := deps.Redis

	keys, secret := cfg.SigningKeys, cfg.SessionKeySecret
	wxcfg := wxapi.Config{AppID: cfg.WeChatAppID, Secret: cfg.WeChatSecret, BaseURL: cfg.WeChatBaseURL}
	var fake *wxfake.Fake
	if cfg.DevMode() {
		if len(keys) == 0 {
			k, err := devSigningKey(ctx, rdb)
			if err != nil {
				return nil, fmt.Errorf("app: dev signing key: %w", err)
			}
			keys = []server.SigningKey{k}
		}
		if !explicitIssuer {
			// Dev instances on one Redis answer on different URLs (loopback
			// tests); the first one's URL is the issuer of them all.
			iss, err := devShared(ctx, rdb, "sl:dev:issuer", []byte(cfg.Issuer))
			if err != nil {
				return nil, fmt.Errorf("app: dev issuer: %w", err)
			}
			cfg.Issuer = string(iss)
		}
		if len(secret) == 0 {
			// Dev data is fake; a fixed key lets dev instances on one Redis
			// read each other's session keys.
			sum := sha256.Sum256([]byte("scanlogin dev mode: not a secret"))
			secret = sum[:]
		}
		wxcfg.AppID, wxcfg.Secret = devAppID, devSecret
		wxcfg.BaseURL = selfURL + "/dev/wechat"
		publicURL := cfg.PublicURL
		fake = wxfake.New(wxfake.Options{
			AppID:  devAppID,
			Secret: devSecret,
			Redis:  rdb, // several dev instances on one Redis agree
			QRContent: func(scene string) string {
				return publicURL + "/dev/phone?scene=" + scene
			},
		})
	}

	metrics := server.NewMetrics()
	wxcfg.Redis = rdb
	wxcfg.HTTPClient = metrics.WeChatHTTPClient()
	wxcfg.Logger = log.With("component", "wxapi")
	wxcfg.Now = now
	wx, err := wxapi.New(wxcfg)
	if err != nil {
		return nil, closeFake(fake, err)
	}
	tokens, err := server.NewTokenIssuer(keys, cfg.Issuer, cfg.Audience, cfg.AccessTokenTTL, now)
	if err != nil {
		return nil, closeFake(fake, err)
	}
	engine, err := scanlogin.New(rdb, scanlogin.Config{
		SceneTTL:      cfg.SceneTTL,
		ConfirmWindow: cfg.ConfirmWindow,
		HardCap:       cfg.HardCap,
		RedeemWindow:  cfg.RedeemWindow,
		NumberMatch:   cfg.NumberMatch,
		SessionTTL:    cfg.SessionTTL,
		MPTokenTTL:    cfg.MPTokenTTL,
		// Two tabs refreshing at once keep the session.
		RefreshReuseWindow: cfg.RefreshReuseWindow,
		// The poll limit is counted by the engine in the same round trip
		// as the poll's first read.
		PollsPerMinute:   max(cfg.Limits.PollPerScene, 0),
		SessionKeySecret: secret,
		Now:              now,
		Logger:           log.With("component", "scanlogin"),
	})
	if err != nil {
		return nil, closeFake(fake, err)
	}
	limiter := server.NewLimiter(rdb, server.Limits{
		CreatePerIP: cfg.Limits.CreatePerIP,
		LoginPerIP:  cfg.Limits.LoginPerIP,
		ScanPerUser: cfg.Limits.ScanPerUser,
	}, engine.StoreError)
	opts := server.Options{
		Engine:         engine,
		WeChat:         wx,
		Tokens:         tokens,
		Limiter:        limiter,
		Metrics:        metrics,
		Logger:         log,
		Now:            now,
		Web:            deps.Web,
		PublicURL:      cfg.PublicURL,
		SiteName:       cfg.SiteName,
		NumberMatch:    cfg.NumberMatch,
		MPPage:         cfg.MPPage,
		MPEnvVersion:   cfg.MPEnvVersion,
		AllowedOrigins: cfg.AllowedOrigins,
		AvatarHosts:    cfg.AvatarHosts,
		TrustedProxies: cfg.TrustedProxies,
		ShutdownDelay:  cfg.ShutdownDelay,
	}
	if fake != nil {
		opts.DevWeChat = fake
	}
	srv, err := server.New(opts)
	if err != nil {
		_ = engine.Close()
		return nil, closeFake(fake, err)
	}
	return &App{Config: cfg, Server: srv, Engine: engine, Fake: fake}, nil
}

// closeFake closes the dev fake, if any, on a failed New.
func closeFake(f *wxfake.Fake, err error) error {
	if f != nil {
		_ = f.Close()
	}
	return err
}

// Run serves on ln until ctx ends and shuts down gracefully (server.Run),
// then closes the App.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	err := a.Server.Run(ctx, ln)
	a.Close()
	return err
}

// Close stops the server and the engine (waiting polls answer) and closes
// the dev fake. The Redis client belongs to the caller. Safe to call twice.
func (a *App) Close() {
	a.Server.Close()
	if a.Fake != nil {
		_ = a.Fake.Close()
	}
}

// devSigningKey returns the dev-mode key, shared through Redis by every
// dev instance on it so that their tokens verify on each other.
func devSigningKey(ctx context.Context, rdb redis.UniversalClient) (server.SigningKey, error) {
	fresh, err := server.GenerateSigningKey()
	if err != nil {
		return server.SigningKey{}, err
	}
	pemBytes, err := server.MarshalSigningKeyPEM(fresh)
	if err != nil {
		return server.SigningKey{}, err
	}
	stored, err := devShared(ctx, rdb, "sl:dev:signing-key", pemBytes)
	if err != nil {
		return server.SigningKey{}, err
	}
	return server.ParseSigningKeyPEM(stored)
}

// devShared stores value under key unless a dev instance did first, and
// returns what is stored.
func devShared(ctx context.Context, rdb redis.UniversalClient, key string, value []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rdb.SetNX(ctx, key, value, 0).Err(); err != nil {
		return nil, err
	}
	return rdb.Get(ctx, key).Bytes()
}
