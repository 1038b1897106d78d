package server

import (
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scanlogin/scanlogin/server/oidcop"
)

// routeAvatarUpload gets the larger body limit.
const routeAvatarUpload = "/api/v1/mp/me/avatar"

// routes is the whole HTTP surface of scanlogin, in one place (README.md, "HTTP API").
func (s *Server) routes(e *echo.Echo) {
	// Browser: scenes and their long poll (auth: the poll token).
	e.POST("/api/v1/qr", s.createScene)
	e.GET("/api/v1/qr/:scene/image", s.sceneImage)
	e.GET("/api/v1/qr/:scene/link", s.sceneLink)
	e.GET("/api/v1/qr/:scene/state", s.sceneState)
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

	// The OpenID Connect provider (docs/OIDC.md): discovery, authorize and
	// its scan-page hand-off, token, UserInfo, revocation, logout; in dev
	// mode also the demo relying party at /dev/rp/.
	if s.opts.OIDC != nil {
		for _, r := range s.opts.OIDC.Routes() {
			e.Add(r.Method, r.Path, s.oidc)
		}
	}

	// Operations.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	// HEAD too, for uptime monitors that probe with it (RFC 9110 9.3.2;
	// net/http sends the headers of the GET and drops its body).
	e.HEAD("/healthz", s.healthz)
	e.HEAD("/readyz", s.readyz)
	e.HEAD("/", s.webFile("index.html"))
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))
	e.GET("/openapi.json", s.openAPI)

	// The browser front end (package web).
	e.GET("/", s.webFile("index.html"))
	e.GET("/scanlogin.js", s.webFile("scanlogin.js"))
	e.GET("/static/*", s.staticFile)
	s.phonePathRoutes(e) // link mode's landing page, WeChat's verification files

	// Dev mode only: the fake WeChat and the phone simulator.
	if s.opts.DevWeChat != nil {
		e.Any("/dev/wechat/*", echo.WrapHandler(http.StripPrefix("/dev/wechat", s.opts.DevWeChat)))
		e.GET("/dev/phone", s.webFile("phone.html"))
	}
}

// oidc hands a request to the OpenID provider with the client IP worked
// out here (trusted proxies applied).
func (s *Server) oidc(c echo.Context) error {
	r := c.Request()
	s.opts.OIDC.ServeHTTP(c.Response(), r.WithContext(oidcop.WithClientIP(r.Context(), c.RealIP())))
	return nil
}

// newEcho sets up Echo: error handler, client IP, middleware, routes.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(io.Discard)
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(s.opts.TrustedProxies)
	s.middleware(e)
	s.routes(e)
	return e
}

// middleware is the chain every request runs through, outermost first: a
// request id, the access log and metrics, panic recovery, security
// headers, CORS for the widget's origins, the body limit, admission
// control.
func (s *Server) middleware(e *echo.Echo) {
	e.Use(requestIDMiddleware)
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogLatency: true,
		LogError:   true,
		// The error response is written before the line is logged, so
		// the line has its status.
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			s.metrics.observe(c, v.Latency, v.Error)
			if !wasShed(c) { // refusals are logged once per interval (admission.go)
				s.logRequest(c, v.Latency, v.Error)
			}
			return nil
		},
	}))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		// A panic is a 500 in the API's error shape, its text and stack kept out
		// of the response and the log; the access log above counts it.
		DisablePrintStack:   true,
		DisableErrorHandler: true,
		LogErrorFunc: func(c echo.Context, err error, _ []byte) error {
			s.log.Error("panic", "err", err, "request_id", requestID(c))
			return err
		},
	}))
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		ContentTypeNosniff: "nosniff",
		ReferrerPolicy:     "no-referrer",
		// A framed login page is a phishing tool; nothing here is meant to
		// be framed (the widget is a script, not an iframe).
		XFrameOptions: "DENY",
	}))
	e.Use(s.refusedOrigins())
	if len(s.opts.AllowedOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: s.opts.AllowedOrigins,
			// The widget calls with credentials so the session cookie lands
			// on our origin; only the listed origins get this.
			AllowCredentials: true,
			AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodDelete},
			AllowHeaders:     []string{echo.HeaderAuthorization, echo.HeaderContentType},
			ExposeHeaders:    []string{"Retry-After", echo.HeaderXRequestID},
			MaxAge:           600,
		}))
	}
	e.Use(bodyLimit)
	if s.gate != nil {
		e.Use(s.admission)
	}
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

// healthz: the process is alive.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: Redis answers and we are not shutting down (README.md#http-api-v1). The database is reported, not required: every instance
// shares it, so failing readiness for it would take them all out of the
// load balancer, which then refuses with a bare error of its own, while the
// instances still serve what needs no database (polls, cached users'
// scans and redeems) and answer the rest 503 with Retry-After.
func (s *Server) readyz(c echo.Context) error {
	noStore(c)
	if s.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	}
	ctx := c.Request().Context()
	if err := s.engine.Ping(ctx); err != nil {
		s.log.Warn("not ready", "status", "redis unavailable", "err", err)
		e := errorFor(err)
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(retryAfterSeconds(e.RetryAfter), 1)))
		status := "redis unavailable"
		if e.Code == codeOverloaded {
			// Redis answers, not this call in time: it is not reported
			// down. Failing readiness sends new browsers to the others.
			status = "overloaded"
		}
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": status})
	}
	db := "ok"
	if err := s.engine.PingUsers(ctx); err != nil {
		s.log.Warn("database not answering", "err", err)
		db = "unavailable"
		if errorFor(err).Code == codeOverloaded {
			db = "overloaded"
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready", "database": db})
}

// publicConfig is GET /api/v1/config, for the pages.
func (s *Server) publicConfig(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{
		"site_name":    s.opts.SiteName,
		"number_match": s.opts.NumberMatch,
		"dev_mode":     s.opts.DevWeChat != nil,
	})
}
