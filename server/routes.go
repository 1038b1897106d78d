package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routeAvatarUpload gets the larger body limit.
const routeAvatarUpload = "/api/v1/mp/me/avatar"

// routes is the whole HTTP surface of scanlogin, in one place (SPEC §4).
func (s *Server) routes(e *echo.Echo) {
	// Browser: scenes and their long poll (auth: the poll token).
	e.POST("/api/v1/qr", s.createScene)
	e.GET("/api/v1/qr/:scene/image", s.sceneImage)
	e.GET("/api/v1/qr/:scene/state", s.sceneState())
	e.POST("/api/v1/qr/:scene/redeem", s.redeem)
	e.DELETE("/api/v1/qr/:scene", s.cancelByBrowser)

	// Mini-program (auth: the mp token, or a body code on scan/confirm/cancel).
	e.POST("/api/v1/mp/login", s.mpLogin)
	e.GET("/api/v1/mp/me", s.mpMe)
	e.PUT("/api/v1/mp/me", s.mpUpdateMe) // wx.request has no PATCH
	e.PATCH("/api/v1/mp/me", s.mpUpdateMe)
	e.POST(routeAvatarUpload, s.mpAvatar)
	e.POST("/api/v1/mp/me/phone", s.mpPhone)
	e.GET("/api/v1/mp/sessions", s.mpSessions)
	e.DELETE("/api/v1/mp/sessions/:id", s.mpRevokeSession)
	e.POST("/api/v1/qr/:scene/scan", s.scan)
	e.POST("/api/v1/qr/:scene/confirm", s.confirm)
	e.POST("/api/v1/qr/:scene/cancel", s.cancel)
	e.GET("/api/v1/avatars/:id", s.avatar)

	// Web session (auth: the access token, Bearer or cookie).
	e.GET("/api/v1/me", s.me)
	e.POST("/api/v1/session/refresh", s.refresh)
	e.POST("/api/v1/session/logout", s.logout)
	e.GET("/.well-known/jwks.json", s.jwks)
	e.GET("/api/v1/config", s.publicConfig)

	// Operations.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))
	e.GET("/openapi.json", s.openAPI)

	// The browser front end (package web).
	e.GET("/", s.webFile("index.html"))
	e.GET("/scanlogin.js", s.webFile("scanlogin.js"))
	e.GET("/static/*", s.staticFile)

	// Dev mode only: the fake WeChat and the phone simulator.
	if s.fake != nil {
		e.Any("/dev/wechat/*", echo.WrapHandler(http.StripPrefix("/dev/wechat", s.fake)))
		e.GET("/dev/phone", s.webFile("phone.html"))
	}
}

// newEcho sets up Echo: error handler, client IP, middleware, routes.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(io.Discard)
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)

	e.Use(s.envelope)
	if len(s.cfg.AllowedOrigins) > 0 {
		e.Use(beforeNext(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: s.cfg.AllowedOrigins,
			// The widget calls with credentials so the session cookie lands
			// on our origin; only the listed origins get this.
			AllowCredentials: true,
			AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodDelete},
			AllowHeaders:     []string{echo.HeaderAuthorization, echo.HeaderContentType},
			ExposeHeaders:    []string{"Retry-After", echo.HeaderXRequestID},
			MaxAge:           600,
		})))
	}
	s.routes(e)
	return e
}

// ipExtractor: the socket's peer address, unless that peer is a trusted
// proxy, in which case the nearest untrusted address of X-Forwarded-For.
// Nothing is trusted by default (not even loopback or private networks), so
// a forged header changes nothing.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// envelope is the middleware every request runs through, in this order: a
// request id, panic recovery, the access log and metrics around the rest,
// security headers, the body limit. It is one closure, not a chain of five,
// because thousands of long polls sleep under it: Go halves a sleeping
// goroutine's stack at GC only while it uses less than a quarter of it, and
// with every frame of the chain live during the sleep a waiting poll kept
// 8 KB of stack over h2c (16 KB over HTTP/1.1) instead of 4 (8); see
// docs/BENCHMARKS.md. For the same reason its steps run in helpers, which have
// returned by the time next is called.
func (s *Server) envelope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		setRequestID(c)
		start := time.Now()
		defer s.recoverPanic(c, start, &err)
		setSecurityHeaders(c.Response().Header())
		if err = capBody(c); err == nil {
			err = next(c)
		}
		if err == errParked {
			return nil // the parked poll logs and counts itself
		}
		s.finish(c, time.Since(start), err)
		return err
	}
}

// finish counts a request and writes its access log line.
func (s *Server) finish(c echo.Context, took time.Duration, err error) {
	s.metrics.observe(c, took, err)
	s.logRequest(c, took, err)
}

// recoverPanic turns a panic below the envelope into a logged 500 (stack
// traces not logged), and logs and counts the request like any other.
func (s *Server) recoverPanic(c echo.Context, start time.Time, err *error) {
	r := recover()
	if r == nil {
		return
	}
	if r == http.ErrAbortHandler {
		panic(r) // net/http's way to abort a response; it handles it
	}
	perr, ok := r.(error)
	if !ok {
		perr = fmt.Errorf("%v", r)
	}
	s.log.Error("panic", "err", perr, "request_id", requestID(c))
	c.Error(perr)
	s.finish(c, time.Since(start), perr)
	*err = nil
}

// beforeNext runs a middleware whose every call to its next is a tail call
// (return next(c)), Echo's CORS, as a step before next rather than around
// it: the result is the same, and its large frame is off the stack while a
// poll sleeps (see envelope).
func beforeNext(m echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		step := m(func(echo.Context) error { return errPassedOn })
		return func(c echo.Context) error {
			if err := step(c); err != errPassedOn {
				return err
			}
			return next(c)
		}
	}
}

// errPassedOn is what beforeNext's step returns when m passes the request on.
var errPassedOn = errors.New("passed on")

func setSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// A framed login page is a phishing tool; nothing here is meant to
	// be framed (the widget is a script, not an iframe).
	h.Set("X-Frame-Options", "DENY")
}

// healthz: the process is alive.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: Redis answers and we are not shutting down.
func (s *Server) readyz(c echo.Context) error {
	noStore(c)
	if s.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	}
	if err := s.engine.Ping(c.Request().Context()); err != nil {
		s.log.Warn("not ready", "err", err)
		c.Response().Header().Set("Retry-After", "2")
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "redis unavailable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// publicConfig is GET /api/v1/config, for the pages.
func (s *Server) publicConfig(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{
		"site_name":    s.cfg.SiteName,
		"number_match": s.cfg.NumberMatch,
		"dev_mode":     s.fake != nil,
	})
}
