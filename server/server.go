package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/server/oidcop"
	"github.com/scanlogin/scanlogin/web"
	"github.com/scanlogin/scanlogin/wxapi"
)

// HTTP server limits (docs/ARCHITECTURE.md#security). The write timeout must outlast the longest
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

// Options are what a Server is made of: its dependencies, every one built
// by the caller (cmd/scanlogin/app, the composition root), and the few
// settings of the HTTP layer.
type Options struct {
	// Engine is the domain; required. Close closes it, which answers the
	// waiting polls: the Server runs on it and stops with it.
	Engine *scanlogin.Engine
	// WeChat is the WeChat client (the fake's URL in dev mode); required.
	WeChat *wxapi.Client
	// Tokens signs and verifies access tokens; required.
	Tokens *TokenIssuer
	// Limiter applies the rate limits; required.
	Limiter *Limiter
	// Metrics is the Prometheus registry served at /metrics; the caller
	// builds it to count WeChat calls too (Metrics.WeChatHTTPClient).
	// Default: a fresh one.
	Metrics *Metrics
	Logger  *slog.Logger     // default: discard
	Now     func() time.Time // default time.Now
	Web     fs.FS            // web assets; default web.FS
	// DevWeChat is dev mode: the fake WeChat, mounted at /dev/wechat/ beside
	// the phone simulator at /dev/phone. Nil with real WeChat credentials.
	DevWeChat http.Handler
	// OIDC is the OpenID Connect provider (docs/OIDC.md), mounted at its
	// Paths; its RSA keys join /.well-known/jwks.json. Nil: no provider.
	OIDC *oidcop.Provider

	PublicURL      string // absolute base URL browsers and phones use; required
	SiteName       string // shown on the confirm page
	NumberMatch    bool   // confirm requires the number the browser shows
	MPPage         string // the mini-program page its code opens; required
	MPEnvVersion   string // release, trial or develop; required
	AllowedOrigins []string
	// AvatarHosts are the https hosts an avatar_url may name besides our
	// own avatar route; the pages' Content-Security-Policy allows images
	// from them. Default DefaultAvatarHosts.
	AvatarHosts    []string
	TrustedProxies []*net.IPNet
	ShutdownDelay  time.Duration // /readyz fails this long before Run stops serving
	// Admission bounds the requests worked on at once and sheds new work
	// first when they wait too long (docs/ARCHITECTURE.md#overload). Zero:
	// the defaults; Limit < 0: off.
	Admission AdmissionConfig

	// QR codes and the phone path (README.md, "QR modes"): QRMode "link"
	// makes the code locally from QRLinkPrefix + scene; "" or "wxacode"
	// asks WeChat (getwxacodeunlimit). VerifyFiles are WeChat's
	// verification files (name -> content), served at the host's root and
	// under the prefix's directory.
	QRMode       string
	QRLinkPrefix string
	VerifyFiles  map[string][]byte
}

// Server is the HTTP layer: an http.Handler serving the whole API. Create it
// with New, serve it with Run (or Handler), release it with Close.
type Server struct {
	opts    Options
	log     *slog.Logger
	engine  *scanlogin.Engine
	wx      *wxapi.Client
	tokens  *TokenIssuer
	limits  *Limiter
	metrics *Metrics
	web     fs.FS
	echo    *echo.Echo
	now     func() time.Time

	publicOrigin  string
	avatarHosts   []string
	pageCSP       string // Content-Security-Policy of every HTML page
	secureCookies bool
	qrCalls       flight[qrImage]
	linkCalls     flight[string]
	origins       originLog
	gate          *gate // nil: admission control off
	draining      atomic.Bool
	closeOnce     sync.Once
}

// New builds a Server from its dependencies.
func New(opts Options) (*Server, error) {
	if opts.Engine == nil || opts.WeChat == nil || opts.Tokens == nil || opts.Limiter == nil {
		return nil, errors.New("server: Engine, WeChat, Tokens and Limiter are required")
	}
	u, err := url.Parse(opts.PublicURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("server: PublicURL: want an absolute URL, got %q", opts.PublicURL)
	}
	if opts.MPPage == "" || opts.MPEnvVersion == "" {
		return nil, errors.New("server: MPPage and MPEnvVersion are required")
	}
	if err := checkQROptions(opts); err != nil {
		return nil, err
	}
	if err := opts.Admission.check(); err != nil {
		return nil, err
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Web == nil {
		opts.Web = web.FS
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.AvatarHosts == nil {
		opts.AvatarHosts = DefaultAvatarHosts
	}
	for _, h := range opts.AvatarHosts {
		if !ValidAvatarHost(h) {
			return nil, fmt.Errorf("server: AvatarHosts: %q is not a DNS name of a public host", h)
		}
	}
	s := &Server{
		opts:          opts,
		log:           opts.Logger,
		engine:        opts.Engine,
		wx:            opts.WeChat,
		tokens:        opts.Tokens,
		limits:        opts.Limiter,
		metrics:       opts.Metrics,
		web:           opts.Web,
		now:           opts.Now,
		publicOrigin:  u.Scheme + "://" + u.Host,
		avatarHosts:   opts.AvatarHosts,
		pageCSP:       pageCSP(u.Scheme+"://"+u.Host, opts.AvatarHosts),
		secureCookies: secureCookies(opts.DevWeChat != nil, opts.PublicURL),
	}
	if opts.Admission.Limit >= 0 {
		s.gate = newGate(opts.Admission.withDefaults(), s.log, s.metrics.admission)
	}
	s.echo = s.newEcho()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Routes lists every registered route (method and Echo path).
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// HTTPServer returns an http.Server for s with the timeouts of docs/ARCHITECTURE.md#security. It
// speaks HTTP/1.1 and, on the same port, HTTP/2 with prior knowledge (h2c):
// a proxy in front (deploy's Caddy) then carries thousands of waiting polls
// over a few connections, and a waiting poll costs a stream instead of a
// connection with its own buffers and reader goroutine (docs/BENCHMARKS.md).
func (s *Server) HTTPServer() *http.Server {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Protocols:         protocols,
		Handler:           s,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Run serves on ln until ctx ends, then shuts down gracefully: /readyz
// fails first, after Options.ShutdownDelay waiting polls are answered with
// their current state, in-flight requests finish, and Run returns within a
// few seconds. It closes the Server.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := s.HTTPServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down", "delay", s.opts.ShutdownDelay)
	if s.opts.ShutdownDelay > 0 {
		time.Sleep(s.opts.ShutdownDelay)
	}
	// Waiting polls answer with their current state; the requests in flight
	// finish; only then does the engine stop, so that what they record (a
	// redeem's sign-in history) is written.
	if s.gate != nil {
		s.gate.close()
	}
	s.engine.ReleaseWaiters()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	s.Close()
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Drain makes /readyz fail and new polls answer at once, without stopping.
func (s *Server) Drain() { s.draining.Store(true) }

// Close releases waiting polls by closing the engine. The other
// dependencies belong to the caller. Safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		if s.gate != nil {
			s.gate.close()
		}
		_ = s.engine.Close()
	})
}
