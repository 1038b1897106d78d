package server

// "Open in WeChat": GET /api/v1/qr/{scene}/link, the scene's URL Link
// (README.md, "Open in WeChat"). Shaped like the image endpoint: made by
// WeChat once per scene on the first request, cached in Redis for the
// scene's life, refused for a finished scene.

import (
	"context"
	"errors"
	"html"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// linkClaimTTL bounds how long other instances wait for the one asking
// WeChat; a claim that lapses (the instance died) lets another one ask.
const linkClaimTTL = 10 * time.Second

type urlLinkResponse struct {
	Scene   string `json:"scene"`
	URLLink string `json:"url_link"`
}

// sceneLink answers the link as JSON ({scene, url_link}) to a caller that
// asks for JSON, and otherwise redirects to it (302): the widget's button
// is a plain link that opens in a new tab, so the page keeps its long poll
// while the user is in WeChat. Its rate limit is the creation limit, per
// client IP: one link per scene is all a page needs.
func (s *Server) sceneLink(c echo.Context) error {
	link, err := s.sceneLinkFor(c)
	if wantsHTML(c.Request()) && err != nil {
		return s.errorPage(c, err)
	}
	if err != nil {
		return err
	}
	noStore(c)
	if wantsJSON(c.Request()) {
		return c.JSON(http.StatusOK, urlLinkResponse{Scene: c.Param("scene"), URLLink: link})
	}
	return c.Redirect(http.StatusFound, link)
}

func (s *Server) sceneLinkFor(c echo.Context) (string, error) {
	id, err := sceneParam(c)
	if err != nil {
		return "", err
	}
	ctx := c.Request().Context()
	if err := s.limits.link(ctx, c.RealIP()); err != nil {
		return "", err
	}
	sc, err := s.engine.Scene(ctx, id)
	if err != nil {
		return "", err
	}
	if err := refuseFinal(sc); err != nil {
		return "", err
	}
	link, err := s.engine.SceneLink(ctx, id)
	if errors.Is(err, scanlogin.ErrSceneNotFound) {
		return s.linkCalls.Do(ctx, id, func() (string, error) {
			// The call serves every waiting request: the first one hanging
			// up must not cancel it.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			defer cancel()
			return s.makeSceneLink(ctx, sc)
		})
	}
	return link, err
}

// refuseFinal: no link or image for a finished scene; say why.
func refuseFinal(sc *scanlogin.Scene) error {
	switch {
	case sc.State == scanlogin.StateExpired:
		return scanlogin.ErrSceneExpired
	case sc.State.Final():
		return scanlogin.ErrSceneFinal
	}
	return nil
}

// makeSceneLink asks WeChat once per scene across instances: the instance
// that claims the scene's link asks; the others read the cache until the
// link is there or the claim lapses.
func (s *Server) makeSceneLink(ctx context.Context, sc *scanlogin.Scene) (string, error) {
	for {
		won, err := s.engine.ClaimSceneLink(ctx, sc.ID, linkClaimTTL)
		if err != nil {
			return "", err
		}
		if won {
			break
		}
		for range int(linkClaimTTL / (100 * time.Millisecond)) {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			link, err := s.engine.SceneLink(ctx, sc.ID)
			if !errors.Is(err, scanlogin.ErrSceneNotFound) {
				return link, err
			}
		}
	}
	// The link opens the confirm page with the scene as its query, and
	// via=link: the browser is on the phone that opens it (README.md "Open
	// in WeChat"), so the page speaks of this phone's browser, not of a
	// computer. It lives as long as the code can still be scanned.
	expires := sc.ExpiresAt
	if expires.IsZero() || !expires.After(s.now()) {
		return "", scanlogin.ErrSceneExpired
	}
	link, err := s.wx.GenerateURLLink(ctx, s.opts.MPPage, "scene="+sc.ID+"&via=link", s.opts.MPEnvVersion, expires)
	if err != nil {
		return "", err
	}
	if err := s.engine.PutSceneLink(ctx, sc.ID, link); err != nil {
		return "", err
	}
	return link, nil
}

// wantsJSON: the caller asked for JSON (fetch with Accept:
// application/json), not a page.
func wantsJSON(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// wantsHTML: a browser navigating (a link tapped), which should see a page
// rather than the API's JSON when something is wrong.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// errorPage answers err as the error page (web/static/error.html, which
// says it in the browser's language), with the status and Retry-After the
// API would give.
func (s *Server) errorPage(c echo.Context, err error) error {
	e := errorFor(err)
	if e.Status == statusClientClosed {
		return nil
	}
	if e.Status >= 500 && e != errShed { // sheds are logged per interval (admission.go)
		s.log.Error("request failed", "err", err, "request_id", requestID(c), "route", c.Path())
	}
	page, rerr := fs.ReadFile(s.web, "error.html")
	if rerr != nil {
		return err
	}
	noStore(c)
	c.Response().Header().Set("Content-Security-Policy", s.pageCSP) // an HTML page like the others (server/csp.go)
	if e.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.RetryAfter)))
	}
	out := strings.Replace(string(page), `data-code=""`, `data-code="`+html.EscapeString(e.Code)+`"`, 1)
	return c.HTMLBlob(e.Status, []byte(out))
}
