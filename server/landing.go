package server

// The plain-link code's URL opened outside WeChat, and WeChat's
// verification file (README.md, "QR modes"; deploy/README.md walks an
// operator through registering the prefix).

import (
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
)

// VerifyFileName is the form of WeChat's verification files (a random name
// ending in .txt).
var VerifyFileName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}\.txt$`)

// phonePathRoutes registers the landing page of link mode (GET of the
// prefix + scene, on this host) and the verification files.
func (s *Server) phonePathRoutes(e *echo.Echo) {
	var dir string
	if s.opts.QRMode == QRModeLink && s.opts.QRLinkPrefix != "" {
		u, err := url.Parse(s.opts.QRLinkPrefix)
		if err == nil {
			p := u.EscapedPath()
			if p == "" {
				p = "/"
			}
			if strings.HasSuffix(s.opts.QRLinkPrefix, "/") {
				// https://host/s/<scene>
				e.GET(p+":scene", s.landing)
				dir = p
			} else {
				// https://host/l?s=<scene>
				e.GET(p, s.landing)
				dir = path.Dir(p) + "/"
			}
		}
	}
	for name, content := range s.opts.VerifyFiles {
		h := func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
			return c.Blob(http.StatusOK, "text/plain; charset=utf-8", content)
		}
		// WeChat looks under the rule's last directory, or at the root.
		e.GET("/"+name, h)
		if dir != "" && dir != "/" {
			e.GET(strings.TrimSuffix(dir, "/")+"/"+name, h)
		}
	}
}

// landing serves the landing page: it reads the scene from its own URL,
// says to scan with WeChat and offers "open in WeChat" (web/static/landing.js).
func (s *Server) landing(c echo.Context) error {
	return s.serveWeb(c, "landing.html")
}
