// Package app is scanlogin's composition root: the application's
// configuration (Config: the SCANLOGIN_* settings, their defaults and
// validation) and New, the one place that builds every dependency (the
// durable store of users, the domain engine on it and Redis, the WeChat
// client, in dev mode the fake WeChat and the dev keys, the token issuer,
// the rate limiter, the metrics) and hands them to server.New. OpenRedis
// opens the Redis client they share.
//
// cmd/scanlogin runs it as the program (environment, logger, embedded Redis,
// listener, signals); server/servertest starts the very same assembly in
// tests. It lives under cmd/scanlogin because it is the program's wiring,
// and outside package main so that those tests can start it.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/oidcop"
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
	Store  *sqlstore.Store // the durable store of users; the App closes it
	Fake   *wxfake.Fake    // the fake WeChat of dev mode; nil with real credentials
	// OIDC is the OpenID provider; nil when it is off (no clients file,
	// real credentials).
	OIDC *oidcop.Provider

	log       *slog.Logger
	now       func() time.Time
	closeOnce sync.Once
}

// Unclaimed avatar uploads (an upload the profile was never saved with)
// are deleted after unclaimedAvatarGrace, by a sweep every
// avatarSweepEvery on every instance (the delete is idempotent).
const (
	unclaimedAvatarGrace = time.Hour
	avatarSweepEvery     = 10 * time.Minute
)

// The credentials of the fake WeChat in dev mode.
const (
	devAppID  = "wxdev0000scanlogin"
	devSecret = "dev-mode-secret-not-secret"
)

// New validates cfg (after WithDefaults), opens the database
// (Config.DatabaseURL, migrating it) and builds every part on it and
// deps.Redis. In dev mode (no WeChat credentials) the signing key, the
// issuer and the session-key secret are generated once and kept in the
// database, shared by every dev instance on it, so that they verify each
// other's tokens and a loss of Redis changes none of them.
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
	metrics := server.NewMetrics()
	store, err := sqlstore.Open(ctx, cfg.DatabaseURL, sqlstore.Config{
		Observe: metrics.ObserveDB,
		Now:     now,
		Logger:  log.With("component", "sqlstore"),
	})
	if err != nil {
		return nil, fmt.Errorf("app: SCANLOGIN_DATABASE_URL (%s): %w", DescribeDatabase(cfg.DatabaseURL), err)
	}
	metrics.RegisterDBPool(func() server.DBPoolStats { return server.DBPoolStats(store.Stats()) })
	a, err := build(ctx, cfg, explicitIssuer, deps, log, now, selfURL, metrics, store)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	return a, nil
}

// build is New once the store is open.
func build(ctx context.Context, cfg Config, explicitIssuer bool, deps Deps, log *slog.Logger, now func() time.Time,
	selfURL string, metrics *server.Metrics, store *sqlstore.Store) (*App, error) {
	rdb := deps.Redis
	keys, secret := cfg.SigningKeys, cfg.SessionKeySecret
	wxcfg := wxapi.Config{AppID: cfg.WeChatAppID, Secret: cfg.WeChatSecret, BaseURL: cfg.WeChatBaseURL}
	var fake *wxfake.Fake
	if cfg.DevMode() {
		if len(keys) == 0 {
			k, err := devSigningKey(ctx, store)
			if err != nil {
				return nil, fmt.Errorf("app: dev signing key: %w", err)
			}
			keys = []server.SigningKey{k}
		}
		if !explicitIssuer {
			// Dev instances on one database answer on different URLs
			// (loopback tests); the first one's URL is the issuer of them
			// all.
			iss, err := store.SharedSetting(ctx, "dev_issuer", []byte(cfg.Issuer))
			if err != nil {
				return nil, fmt.Errorf("app: dev issuer: %w", err)
			}
			cfg.Issuer = string(iss)
		}
		if len(secret) == 0 {
			// Dev instances on one database read each other's session keys.
			fresh := make([]byte, 32)
			_, _ = rand.Read(fresh)
			s, err := store.SharedSetting(ctx, "dev_session_key_secret", fresh)
			if err != nil {
				return nil, fmt.Errorf("app: dev session key secret: %w", err)
			}
			secret = s
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
			// A URL Link tapped in dev mode opens the phone simulator on
			// the link's scene, as WeChat opens the confirm page.
			URLLinkBase: publicURL + "/dev/wechat/urllink/",
			OpenURLLink: func(_, query string) string {
				return publicURL + "/dev/phone?" + query
			},
		})
	}

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
	// The engine tells the OpenID provider, built after it, of every
	// session that ends (back-channel logout).
	var provider atomic.Pointer[oidcop.Provider]
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
		// The scan and poll limits are counted by the engine in the same
		// round trip as the scan's and the poll's first read.
		ScansPerMinute:   max(cfg.Limits.ScanPerUser, 0),
		PollsPerMinute:   max(cfg.Limits.PollPerScene, 0),
		SessionKeySecret: secret,
		Users:            store,
		AppID:            wxcfg.AppID,
		Now:              now,
		Logger:           log.With("component", "scanlogin"),
		OnSessionEnd: func(e scanlogin.SessionEnd) {
			if p := provider.Load(); p != nil {
				p.SessionEnded(e)
			}
		},
	})
	if err != nil {
		return nil, closeFake(fake, err)
	}
	limiter := server.NewLimiter(engine, server.Limits{
		CreatePerIP: cfg.Limits.CreatePerIP,
		LoginPerIP:  cfg.Limits.LoginPerIP,
	})
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
		Admission:      cfg.Admission,
		QRMode:         cfg.QRMode,
		QRLinkPrefix:   cfg.QRLinkPrefix,
		VerifyFiles:    cfg.VerifyFiles,
	}
	if fake != nil {
		opts.DevWeChat = fake
	}
	if cfg.OIDCEnabled() {
		p, err := newOIDC(ctx, cfg, rdb, store, engine, tokens, keys, secret, log, now)
		if err != nil {
			_ = engine.Close()
			return nil, closeFake(fake, err)
		}
		provider.Store(p)
		opts.OIDC = p
	}
	srv, err := server.New(opts)
	if err != nil {
		_ = engine.Close()
		if p := provider.Load(); p != nil {
			p.Close()
		}
		return nil, closeFake(fake, err)
	}
	return &App{Config: cfg, Server: srv, Engine: engine, Store: store, Fake: fake, OIDC: provider.Load(), log: log, now: now}, nil
}

// newOIDC builds the OpenID provider (docs/OIDC.md). In dev mode it gets
// the demo client and an RSA key kept in the database like the dev
// signing key.
func newOIDC(ctx context.Context, cfg Config, rdb redis.UniversalClient, store *sqlstore.Store, engine *scanlogin.Engine,
	tokens *server.TokenIssuer, keys []server.SigningKey, secret []byte, log *slog.Logger, now func() time.Time) (*oidcop.Provider, error) {
	rsaKeys := cfg.OIDCRSAKeys
	clients := cfg.OIDCClients
	devRP := ""
	if cfg.DevMode() {
		if len(rsaKeys) == 0 {
			k, err := devRSAKey(ctx, store)
			if err != nil {
				return nil, fmt.Errorf("app: dev OIDC key: %w", err)
			}
			rsaKeys = []oidcop.RSAKey{k}
		}
		demo := oidcop.DevClient(cfg.PublicURL, secret)
		if !slices.ContainsFunc(clients, func(c oidcop.ClientConfig) bool { return c.ID == demo.ID }) {
			clients = append([]oidcop.ClientConfig{demo}, clients...)
		}
		devRP = demo.ID
	}
	ed := make([]oidcop.EdKey, len(keys))
	for i, k := range keys {
		ed[i] = oidcop.EdKey{ID: k.ID, Public: k.Public, Private: k.Private}
	}
	return oidcop.New(oidcop.Options{
		Issuer:  cfg.Issuer,
		Engine:  engine,
		Redis:   rdb,
		Clients: clients,
		RSAKeys: rsaKeys,
		EdKeys:  ed,
		Secret:  secret,
		SessionFromCookie: func(r *http.Request) (string, bool) {
			ck, err := r.Cookie(server.SessionCookie)
			if err != nil || ck.Value == "" {
				return "", false
			}
			claims, err := tokens.Verify(ck.Value)
			if err != nil {
				return "", false
			}
			return claims.SessionID, true
		},
		SecureCookies:     server.SecureCookies(cfg.DevMode(), cfg.PublicURL),
		SessionCookieName: server.SessionCookie,
		AccessTokenTTL:    cfg.AccessTokenTTL,
		SessionTTL:        cfg.SessionTTL,
		DevRP:             devRP,
		Logger:            log,
		Now:               now,
	})
}

// ReloadOIDCClients re-reads SCANLOGIN_OIDC_CLIENTS_FILE (on SIGHUP). A
// bad file is refused and the clients in force stay; the error names the
// client and the field. In dev mode the demo client stays registered.
func (a *App) ReloadOIDCClients() error {
	if a.OIDC == nil || a.Config.OIDCClientsFile == "" {
		return errors.New("no SCANLOGIN_OIDC_CLIENTS_FILE to reload")
	}
	clients, err := LoadOIDCClients(a.Config.OIDCClientsFile, a.Config.Audience)
	if err != nil {
		return fmt.Errorf("SCANLOGIN_OIDC_CLIENTS_FILE: %w", err)
	}
	if a.Config.DevMode() {
		demo := oidcop.DevClient(a.Config.PublicURL, nil)
		if c, ok := a.OIDC.Client(demo.ID); ok && !slices.ContainsFunc(clients, func(c oidcop.ClientConfig) bool { return c.ID == demo.ID }) {
			clients = append([]oidcop.ClientConfig{c}, clients...)
		}
	}
	a.OIDC.SetClients(clients)
	a.log.Info("oidc: clients reloaded", "clients", len(clients))
	return nil
}

// closeFake closes the dev fake, if any, on a failed New.
func closeFake(f *wxfake.Fake, err error) error {
	if f != nil {
		_ = f.Close()
	}
	return err
}

// Run serves on ln until ctx ends and shuts down gracefully (server.Run),
// then closes the App. Meanwhile it collects unclaimed avatar uploads.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() { a.sweepAvatars(sweepCtx, avatarSweepEvery); close(swept) }()
	err := a.Server.Run(ctx, ln)
	stopSweep()
	<-swept
	a.Close()
	return err
}

// sweepAvatars deletes, every period, the uploads older than
// unclaimedAvatarGrace that no profile save claimed.
func (a *App) sweepAvatars(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.Store.DeleteUnclaimedAvatars(ctx, a.now().Add(-unclaimedAvatarGrace))
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			a.log.Warn("unclaimed avatars: sweep failed", "err", err)
		case n > 0:
			a.log.Info("unclaimed avatars deleted", "count", n)
		}
	}
}

// Close stops the server and the engine (waiting polls answer, queued
// sign-ins are written), closes the database and the dev fake. The Redis
// client belongs to the caller. Safe to call twice.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		a.Server.Close()
		if a.OIDC != nil {
			a.OIDC.Close()
		}
		_ = a.Store.Close()
		if a.Fake != nil {
			_ = a.Fake.Close()
		}
	})
}

// devSigningKey returns the dev-mode key, kept in the database and shared
// by every dev instance on it so that their tokens verify on each other.
func devSigningKey(ctx context.Context, store *sqlstore.Store) (server.SigningKey, error) {
	return devKey(ctx, store, "dev_signing_key", server.GenerateSigningKey, server.MarshalSigningKeyPEM, server.ParseSigningKeyPEM)
}

// devRSAKey is dev mode's RSA key for ID tokens, shared the same way.
func devRSAKey(ctx context.Context, store *sqlstore.Store) (oidcop.RSAKey, error) {
	return devKey(ctx, store, "dev_oidc_rsa_key", oidcop.GenerateRSAKey, oidcop.MarshalRSAKeyPEM, oidcop.ParseRSAKeyPEM)
}

// devKey makes a key and keeps it under name unless a dev instance did
// first, and returns the kept one.
func devKey[K any](ctx context.Context, store *sqlstore.Store, name string,
	gen func() (K, error), marshal func(K) ([]byte, error), parse func([]byte) (K, error)) (K, error) {
	var zero K
	fresh, err := gen()
	if err != nil {
		return zero, err
	}
	pemBytes, err := marshal(fresh)
	if err != nil {
		return zero, err
	}
	stored, err := store.SharedSetting(ctx, name, pemBytes)
	if err != nil {
		return zero, err
	}
	return parse(stored)
}

// SlowDevQRCodes makes the dev fake answer getwxacodeunlimit after d, as a
// real WeChat round trip takes, and DevQRCodeCalls counts its calls: for
// cmd/loadgen's time-to-code benchmark (docs/BENCHMARKS.md), which must not
// import the fake. Both do nothing (0) outside dev mode.
func (a *App) SlowDevQRCodes(d time.Duration) {
	if a.Fake != nil && d > 0 {
		a.Fake.Inject(wxfake.APIQRCode, wxfake.Fault{Delay: d})
	}
}

// DevQRCodeCalls: see SlowDevQRCodes.
func (a *App) DevQRCodeCalls() int {
	if a.Fake == nil {
		return 0
	}
	return a.Fake.Calls(wxfake.APIQRCode)
}
