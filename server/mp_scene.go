package server

// The phone's side of a scene: scan, confirm, cancel.

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
)

type phoneAuth struct {
	Code      string `json:"code"`
	MatchCode string `json:"match_code"`
	// ScancodeTime is the scancode_time WeChat gives a page opened by a
	// plain-link code (scan only; checkScancodeTime).
	ScancodeTime int64 `json:"scancode_time"`
}

// phoneSceneRequest reads what scan, confirm and cancel share: the scene ID
// from the path, the body, and the phone's user (mp token or body code).
func (s *Server) phoneSceneRequest(c echo.Context) (id, uid string, req phoneAuth, err error) {
	if id, req, err = phoneSceneBody(c); err != nil {
		return "", "", req, err
	}
	if uid, err = s.phoneUser(c, req.Code); err != nil {
		return "", "", req, err
	}
	return id, uid, req, nil
}

// phoneSceneBody reads the scene ID from the path and the body.
func phoneSceneBody(c echo.Context) (id string, req phoneAuth, err error) {
	if id, err = sceneParam(c); err != nil {
		return "", req, err
	}
	if err = decodeJSON(c, &req); err != nil {
		return "", req, err
	}
	return id, req, nil
}

type browserInfo struct {
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Label     string    `json:"label"` // browserLabel of UserAgent
	CreatedAt time.Time `json:"created_at"`
}

type siteInfo struct {
	Name string `json:"name"`
}

type scanResponse struct {
	Scene        string      `json:"scene"`
	State        string      `json:"state"`
	ExpiresIn    int64       `json:"expires_in"`
	Browser      browserInfo `json:"browser"`
	MatchChoices []string    `json:"match_choices,omitempty"`
	Site         siteInfo    `json:"site"`
}

// scan is POST /api/v1/qr/{scene}/scan.
func (s *Server) scan(c echo.Context) error {
	id, req, err := phoneSceneBody(c)
	if err != nil {
		return err
	}
	sc, err := s.scanAs(c, id, req)
	if err != nil {
		return err
	}
	resp := scanResponse{
		Scene:     sc.ID,
		State:     string(sc.State),
		ExpiresIn: seconds(sc.ExpiresIn(s.now())),
		Browser:   browserInfo{IP: sc.BrowserIP, UserAgent: sc.BrowserUserAgent, Label: browserLabel(sc.BrowserUserAgent), CreatedAt: sc.CreatedAt.UTC()},
		Site:      siteInfo{Name: s.opts.SiteName},
	}
	if s.opts.NumberMatch {
		resp.MatchChoices = sc.MatchChoices
	}
	noStore(c)
	return c.JSON(http.StatusOK, resp)
}

// scanAs scans scene id for the request's phone and writes the audit line.
// With the mp token, the engine checks the token in the script that counts
// the scan (ScanWithToken: one Redis round trip less than finding the user
// first); with a body code, the user is found first (phoneUser).
func (s *Server) scanAs(c echo.Context, id string, req phoneAuth) (*scanlogin.Scene, error) {
	// Checked before the body's wx.login code is spent.
	if err := checkScancodeTime(req.ScancodeTime); err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	tok := bearer(c.Request())
	if tok == "" {
		uid, err := s.phoneUser(c, req.Code)
		if err != nil {
			return nil, err
		}
		sc, err := s.engine.Scan(ctx, id, uid)
		s.audit(c, "scan", id, uid, err)
		return sc, err
	}
	sc, uid, err := s.engine.ScanWithToken(ctx, id, tok)
	if uid != "" {
		// A token refused, or not checked for Redis failing, makes no
		// scan: it is logged as the other requests with a bad token are,
		// by the access line alone.
		s.audit(c, "scan", id, uid, err)
	}
	return sc, err
}

// confirm is POST /api/v1/qr/{scene}/confirm {match_code?}.
func (s *Server) confirm(c echo.Context) error {
	id, uid, req, err := s.phoneSceneRequest(c)
	if err != nil {
		return err
	}
	// With number match on, a missing match_code is the script's to judge
	// (400 for the scanner of a scanned scene): who may confirm, and
	// whether the scene is still open, come first.
	sc, err := s.engine.Confirm(c.Request().Context(), id, uid, req.MatchCode)
	s.audit(c, "confirm", id, uid, err)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, sceneResult{Scene: sc.ID, State: string(sc.State)})
}

// cancel is POST /api/v1/qr/{scene}/cancel, by the scanner.
func (s *Server) cancel(c echo.Context) error {
	id, uid, _, err := s.phoneSceneRequest(c)
	if err != nil {
		return err
	}
	sc, err := s.engine.Cancel(c.Request().Context(), id, uid)
	s.audit(c, "cancel", id, uid, err)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, sceneResult{Scene: sc.ID, State: string(sc.State)})
}
