package server

// A widget embedded on a site missing from SCANLOGIN_ALLOWED_ORIGINS gets no
// CORS headers, so the browser hides every answer from it; the server logs
// the refused origin, once per origin every refusedOriginEvery, naming the
// variable to set (README.md, "Add scan login to your site").

import (
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

const (
	refusedOriginEvery = 10 * time.Minute
	refusedOriginsKept = 1000 // bounds the memory a flood of made-up origins can take
)

type originLog struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// refusedOrigins is the middleware that logs cross-origin requests from
// origins the CORS policy does not allow. Its set of allowed origins is
// built once: Echo applies middleware anew on every request, and a set built
// there would be held by every waiting poll.
func (s *Server) refusedOrigins() echo.MiddlewareFunc {
	allowed := map[string]bool{s.publicOrigin: true}
	for _, o := range s.opts.AllowedOrigins {
		allowed[o] = true
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			origin := c.Request().Header.Get(echo.HeaderOrigin)
			if origin != "" && origin != "null" && !allowed[origin] && s.origins.first(origin, s.now()) {
				s.log.Warn("refused a cross-origin request: the origin is not in SCANLOGIN_ALLOWED_ORIGINS; add it there to embed the widget on that site",
					"origin", origin, "route", c.Path(), "setting", "SCANLOGIN_ALLOWED_ORIGINS")
			}
			return next(c)
		}
	}
}

// first reports whether origin was not logged in the last period.
func (l *originLog) first(origin string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]time.Time{}
	}
	if t, ok := l.seen[origin]; ok && now.Sub(t) < refusedOriginEvery {
		return false
	}
	if len(l.seen) >= refusedOriginsKept {
		for k, t := range l.seen {
			if now.Sub(t) >= refusedOriginEvery {
				delete(l.seen, k)
			}
		}
		if len(l.seen) >= refusedOriginsKept {
			return false
		}
	}
	l.seen[origin] = now
	return true
}
