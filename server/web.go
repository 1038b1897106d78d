package server

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// webFile serves one file of the web assets.
func (s *Server) webFile(name string) echo.HandlerFunc {
	return func(c echo.Context) error { return s.serveWeb(c, name) }
}

// staticFile is GET /static/<path>: any file of the web assets.
func (s *Server) staticFile(c echo.Context) error {
	name := path.Clean(strings.TrimPrefix(c.Param("*"), "/"))
	if !fs.ValidPath(name) || name == "." {
		return errNoFile
	}
	if name == "phone.html" && s.opts.DevWeChat == nil {
		// The phone simulator is dev mode's only, like /dev/phone
		// (web/README.md): with real credentials it has no fake WeChat
		// to sign in to, and it would be a confirm page on our origin.
		return errNoFile
	}
	return s.serveWeb(c, name)
}

func (s *Server) serveWeb(c echo.Context, name string) error {
	data, err := fs.ReadFile(s.web, name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return errNoFile
	}
	if err != nil {
		return err
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8"
	case ".html":
		ctype = "text/html; charset=utf-8"
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
		c.Response().Header().Set("Content-Security-Policy", s.pageCSP)
	}
	if ctype == "" {
		ctype = http.DetectContentType(data)
	}
	return c.Blob(http.StatusOK, ctype, data)
}
