package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/web"
	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxapitest"
)

// HTTP server limits (SPEC §7). The write timeout must outlast the longest
// poll (30 s) plus the time to write the answer.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = maxPollWait + 15*time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 32 << 10
	// shutdownTimeout bounds the graceful part of shutdown; polls are
	// released at once, so it is only reached by a stuck handler.
	shutdownTimeout = 5 * time.Second
)

// Options are the dependencies of a Server.
type Options struct {
	Config Config
	Redis  redis.UniversalClient // required; the Server does not close it
	Logger *slog.Logger          // default: discard
	// SelfURL is a URL at which this process's own listener answers. In dev
	// mode the WeChat client talks to the fake mounted at SelfURL/dev/wechat.
	// Default: Config.PublicURL.
	SelfURL string
	Web     fs.FS            // web assets; default web.FS
	Now     func() time.Time // default time.Now
}

// Server is the HTTP layer: an http.Handler serving the whole API. Create it
// with New, serve it with Run (or Handler), release it with Close.
type Server struct {
	cfg     Config
	log     *slog.Logger
	rdb     redis.UniversalClient
	engine  *scanlogin.Engine
	wx      *wxapi.Client
	fake    *wxapitest.Fake // dev mode only
	tokens  *tokenIssuer
	limits  *limiter
	metrics *metrics
	web     fs.FS
	echo    *echo.Echo
	now     func() time.Time

	publicOrigin  string
	secureCookies bool
	qrCalls       flight[qrImage]
	draining      atomic.Bool
	closeOnce     sync.Once
	parked        parking         // polls sleeping off net/http (park.go)
	returns       *returnListener // set by Run: takes parked connections back
}

// devAppID and devSecret are the credentials of the fake WeChat in dev mode.
const (
	devAppID  = "wxdev0000scanlogin"
	devSecret = "dev-mode-secret-not-secret"
)

// New builds a Server from a validated Config.
func New(ctx context.Context, opts Options) (*Server, error) {
	cfg := opts.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Redis == nil {
		return nil, errors.New("server: Redis is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	fsys := opts.Web
	if fsys == nil {
		fsys = web.FS
	}
	selfURL := opts.SelfURL
	if selfURL == "" {
		selfURL = cfg.PublicURL
	}
	s := &Server{
		cfg:           cfg,
		log:           log,
		rdb:           opts.Redis,
		metrics:       newMetrics(),
		web:           fsys,
		now:           now,
		secureCookies: secureCookies(cfg.DevMode(), cfg.PublicURL),
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		s.publicOrigin = u.Scheme + "://" + u.Host
	}

	wxcfg := wxapi.Config{
		AppID:      cfg.WeChatAppID,
		Secret:     cfg.WeChatSecret,
		BaseURL:    cfg.WeChatBaseURL,
		Redis:      opts.Redis,
		HTTPClient: s.metrics.wechatHTTPClient(),
		Logger:     log.With("component", "wxapi"),
		Now:        now,
	}
	keys := cfg.SigningKeys
	secret := cfg.SessionKeySecret
	if cfg.DevMode() {
		if len(keys) == 0 {
			k, err := devSigningKey(ctx, opts.Redis)
			if err != nil {
				return nil, fmt.Errorf("server: dev signing key: %w", err)
			}
			keys = []SigningKey{k}
		}
		if opts.Config.Issuer == "" {
			// Dev instances on one Redis answer on different URLs (loopback
			// tests); the first one's URL is the issuer of them all, so their
			// tokens verify on each other (SPEC §5).
			iss, err := devShared(ctx, opts.Redis, "sl:dev:issuer", []byte(cfg.Issuer))
			if err != nil {
				return nil, fmt.Errorf("server: dev issuer: %w", err)
			}
			cfg.Issuer = string(iss)
			s.cfg.Issuer = cfg.Issuer
		}
		if len(secret) == 0 {
			// Dev data is fake; a fixed key lets dev instances on one Redis
			// read each other's session keys.
			sum := sha256.Sum256([]byte("scanlogin dev mode: not a secret"))
			secret = sum[:]
		}
		wxcfg.AppID, wxcfg.Secret = devAppID, devSecret
		wxcfg.BaseURL = selfURL + "/dev/wechat"
	}
	var err error
	if s.wx, err = wxapi.New(wxcfg); err != nil {
		return nil, err
	}
	if s.tokens, err = newTokenIssuer(keys, cfg.Issuer, cfg.Audience, cfg.AccessTokenTTL, now); err != nil {
		return nil, err
	}
	s.engine, err = scanlogin.New(opts.Redis, scanlogin.Config{
		SceneTTL:      cfg.SceneTTL,
		ConfirmWindow: cfg.ConfirmWindow,
		HardCap:       cfg.HardCap,
		RedeemWindow:  cfg.RedeemWindow,
		NumberMatch:   cfg.NumberMatch,
		SessionTTL:    cfg.SessionTTL,
		MPTokenTTL:    cfg.MPTokenTTL,
		// The poll limit of SPEC §7 is counted by the engine in the same
		// round trip as the poll's first read.
		PollsPerMinute:   max(cfg.Limits.PollPerScene, 0),
		SessionKeySecret: secret,
		Now:              now,
		Logger:           log.With("component", "scanlogin"),
	})
	if err != nil {
		return nil, err
	}
	if cfg.DevMode() {
		s.fake = wxapitest.New(wxapitest.Options{
			AppID:  devAppID,
			Secret: devSecret,
			Redis:  opts.Redis, // several dev instances on one Redis agree
			QRContent: func(scene string) string {
				return cfg.PublicURL + "/dev/phone?scene=" + scene
			},
		})
	}
	s.limits = newLimiter(opts.Redis, "sl:", cfg.Limits)
	s.echo = s.newEcho()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Engine is the domain engine the server runs on.
func (s *Server) Engine() *scanlogin.Engine { return s.engine }

// Fake is the fake WeChat of dev mode, nil with real credentials.
func (s *Server) Fake() *wxapitest.Fake { return s.fake }

// Config is the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// Routes lists every registered route (method and Echo path).
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// HTTPServer returns an http.Server for s with the timeouts of SPEC §7. It
// speaks HTTP/1.1 and, on the same port, HTTP/2 with prior knowledge (h2c):
// a proxy in front (deploy's Caddy) then carries thousands of waiting polls
// over a few connections, and a waiting poll costs a stream instead of a
// connection with its own buffers and reader goroutine (docs/BENCHMARKS.md).
func (s *Server) HTTPServer() *http.Server {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Protocols: protocols,
		// Echo itself rather than s: one frame less under every waiting
		// poll (see envelope).
		Handler:           s.echo,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Run serves on ln until ctx ends, then shuts down gracefully: /readyz
// fails first, after Config.ShutdownDelay waiting polls are answered with
// their current state, in-flight requests finish, and Run returns within a
// few seconds. It closes the Server.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := s.HTTPServer()
	s.returns = newReturnListener(ln)
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if st != http.StateNew {
			s.returns.settled(c)
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(s.returns) }()
	select {
	case err := <-served:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down", "delay", s.cfg.ShutdownDelay)
	if s.cfg.ShutdownDelay > 0 {
		time.Sleep(s.cfg.ShutdownDelay)
	}
	s.Close() // releases waiting polls: they answer with their current state
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	// Parked polls left net/http's books when their connections were
	// hijacked: Shutdown does not wait for their answers.
	s.parked.closeAndWait(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Drain makes /readyz fail and new polls answer at once, without stopping.
func (s *Server) Drain() { s.draining.Store(true) }

// Close releases waiting polls and the engine's subscription and closes the
// dev fake. The Redis client belongs to the caller. Safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		_ = s.engine.Close()
		if s.fake != nil {
			_ = s.fake.Close()
		}
	})
}

// devSigningKey returns the dev-mode key, shared through Redis by every
// dev instance on it so that their tokens verify on each other.
func devSigningKey(ctx context.Context, rdb redis.UniversalClient) (SigningKey, error) {
	fresh, err := GenerateSigningKey()
	if err != nil {
		return SigningKey{}, err
	}
	pemBytes, err := MarshalSigningKeyPEM(fresh)
	if err != nil {
		return SigningKey{}, err
	}
	stored, err := devShared(ctx, rdb, "sl:dev:signing-key", pemBytes)
	if err != nil {
		return SigningKey{}, err
	}
	return ParseSigningKeyPEM(stored)
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
