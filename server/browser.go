package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// Long-poll bounds of GET /api/v1/qr/{scene}/state (docs/ARCHITECTURE.md#waiting).
const (
	defaultPollWait = 25 * time.Second
	maxPollWait     = 30 * time.Second
)

// sceneParam returns the scene ID from the path after checking its form.
// The engine checks it too; checking here answers garbage before any work
// and keeps it out of every Redis key.
func sceneParam(c echo.Context) (string, error) {
	id := c.Param("scene")
	if !validSceneID(id) {
		return "", scanlogin.ErrInvalidSceneID
	}
	return id, nil
}

// validSceneID: 32 lowercase hex characters (docs/ARCHITECTURE.md#state-machine).
func validSceneID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if (ch < '0' || ch > '9') && (ch < 'a' || ch > 'f') {
			return false
		}
	}
	return true
}

type createSceneResponse struct {
	Scene       string    `json:"scene"`
	PollToken   string    `json:"poll_token"`
	QRImageURL  string    `json:"qr_image_url"`
	MatchCode   string    `json:"match_code"`
	NumberMatch bool      `json:"number_match"`
	State       string    `json:"state"`
	Version     int64     `json:"version"`
	ExpiresAt   time.Time `json:"expires_at"`
	ExpiresIn   int64     `json:"expires_in"`
	PollWait    int64     `json:"poll_wait"`
}

// createScene is POST /api/v1/qr.
func (s *Server) createScene(c echo.Context) error {
	ctx := c.Request().Context()
	if err := s.limits.create(ctx, c.RealIP()); err != nil {
		return err
	}
	if err := decodeJSON(c, &struct{}{}); err != nil {
		return err
	}
	sc, pollToken, err := s.engine.CreateScene(ctx, scanlogin.NewScene{BrowserIP: c.RealIP(), BrowserUserAgent: c.Request().UserAgent()})
	s.audit(c, "create", sceneID(sc), "", err)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusCreated, createSceneResponse{
		Scene:       sc.ID,
		PollToken:   pollToken,
		QRImageURL:  s.opts.PublicURL + "/api/v1/qr/" + sc.ID + "/image",
		MatchCode:   sc.MatchCode,
		NumberMatch: s.opts.NumberMatch,
		State:       string(sc.State),
		Version:     sc.Version,
		ExpiresAt:   sc.ExpiresAt.UTC(),
		ExpiresIn:   seconds(sc.ExpiresIn(s.now())),
		PollWait:    seconds(defaultPollWait),
	})
}

func sceneID(sc *scanlogin.Scene) string {
	if sc == nil {
		return ""
	}
	return sc.ID
}

// sceneImage is GET /api/v1/qr/{scene}/image: the mini-program code, made
// once per scene across all instances (one WeChat call,
// scanlogin.Engine.SceneImageOf) and kept in Redis for the scene's life;
// a finished scene has none (409 scene_final, 410 scene_expired).
func (s *Server) sceneImage(c echo.Context) error {
	id, err := sceneParam(c)
	if err != nil {
		return err
	}
	if s.opts.QRMode == QRModeLink {
		return s.linkModeImage(c, id)
	}
	// Concurrent requests in this process share one trip to Redis (and to
	// WeChat); the first one hanging up must not cancel it for the others.
	res, err := s.qrCalls.Do(c.Request().Context(), id, func() (qrImage, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 30*time.Second)
		defer cancel()
		ctype, data, err := s.engine.SceneImageOf(ctx, id, func(ctx context.Context) (string, []byte, error) {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			// check_path only works against the released version of the
			// mini-program; trial and develop builds must skip it.
			checkPath := s.opts.MPEnvVersion == "release"
			data, ctype, err := s.wx.UnlimitedQRCode(ctx, id, s.opts.MPPage, s.opts.MPEnvVersion, checkPath, 280)
			return ctype, data, err
		})
		return qrImage{ctype: ctype, data: data}, err
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "private, max-age=300")
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, res.ctype, res.data)
}

type qrImage struct {
	ctype string
	data  []byte
}

// pollWait parses the wait parameter: seconds, default 25, at most 30.
// More is refused, not clamped, so the answer matches what /openapi.json
// says (maximum 30) and a client learns its mistake.
func pollWait(v string) (time.Duration, error) {
	if v == "" {
		return defaultPollWait, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > int(maxPollWait/time.Second) {
		return 0, invalidRequest("wait: must be a whole number of seconds from 0 to 30")
	}
	return time.Duration(n) * time.Second, nil
}

type scannedBy struct {
	Nickname  string `json:"nickname"`
	AvatarURL string `json:"avatar_url"`
}

type sceneStateResponse struct {
	Scene     string     `json:"scene"`
	State     string     `json:"state"`
	Version   int64      `json:"version"`
	ExpiresIn int64      `json:"expires_in"`
	ScannedBy *scannedBy `json:"scanned_by,omitempty"`
}

// sceneState is GET /api/v1/qr/{scene}/state?since=V&wait=S, the long
// poll: the engine's Wait, answered as JSON. Its rate limit is counted by
// the engine, in the poll's first read. While the server shuts down a poll
// answers at once with the current state, and the browser polls again,
// elsewhere.
func (s *Server) sceneState(c echo.Context) error {
	id, err := sceneParam(c)
	if err != nil {
		return err
	}
	// The query is parsed here rather than with c.QueryParam, which keeps
	// the parsed map in the Echo context for the whole wait.
	query := c.Request().URL.Query()
	var since int64
	if v := query.Get("since"); v != "" { // no version is 0, so an absent since answers at once
		if since, err = strconv.ParseInt(v, 10, 64); err != nil || since < 0 {
			return invalidRequest("since: must be a non-negative integer")
		}
	}
	wait, err := pollWait(query.Get("wait"))
	if err != nil {
		return err
	}
	if s.draining.Load() {
		wait = 0
	}
	s.metrics.waitingPolls.Inc()
	sc, err := s.engine.Wait(c.Request().Context(), id, bearer(c.Request()), since, wait)
	s.metrics.waitingPolls.Dec()
	if err != nil {
		return err
	}
	return s.answerState(c, sc, since)
}

// answerState writes the answer of a long poll that saw sc.
func (s *Server) answerState(c echo.Context, sc *scanlogin.Scene, since int64) error {
	resp := sceneStateResponse{Scene: sc.ID, State: string(sc.State), Version: sc.Version, ExpiresIn: seconds(sc.ExpiresIn(s.now()))}
	// The scanner is shown while the phone decides, so scanned_by comes
	// with news of "scanned" only: an unchanged answer (the wait ran out)
	// leaves it out and clients keep what they have, and "confirmed" leaves
	// it out too (the browser redeems at once and redeem returns the user),
	// which keeps a Redis read off the path of the login's last wake-up.
	// The scene keeps the profile the scan found (scanlogin.Engine.Scan);
	// only one scanned without it asks for the user.
	news := sc.ScannedBy != "" && sc.State == scanlogin.StateScanned && (since == 0 || sc.Version != since)
	if news && sc.Scanner != nil {
		resp.ScannedBy = &scannedBy{Nickname: scanlogin.CleanNickname(sc.Scanner.Nickname), AvatarURL: sc.Scanner.AvatarURL}
	} else if news {
		u, err := s.engine.User(c.Request().Context(), sc.ScannedBy)
		switch {
		case err == nil:
			resp.ScannedBy = &scannedBy{Nickname: scanlogin.CleanNickname(u.Nickname), AvatarURL: u.AvatarURL}
		case errors.Is(err, context.Canceled), errors.Is(err, scanlogin.ErrUserNotFound):
		default:
			// The scanner's name is a courtesy: a store that cannot say it
			// (the database down or too busy, and the user not cached) must
			// not stop the login, which needs only the scene.
			s.log.Warn("poll: scanner unknown for now", "scene", sc.ID, "err", err)
		}
	}
	noStore(c)
	return c.JSON(http.StatusOK, resp)
}

type sessionUser struct {
	ID        string `json:"id"`
	Nickname  string `json:"nickname"`
	AvatarURL string `json:"avatar_url"`
}

type tokenResponse struct {
	AccessToken  string       `json:"access_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    int64        `json:"expires_in"`
	RefreshToken string       `json:"refresh_token"`
	User         *sessionUser `json:"user,omitempty"`
}

// redeem is POST /api/v1/qr/{scene}/redeem: exactly once per confirmed
// scene, it opens the web session (scanlogin.Engine.RedeemScene).
func (s *Server) redeem(c echo.Context) error {
	id, err := sceneParam(c)
	if err != nil {
		return err
	}
	if err := decodeJSON(c, &struct{}{}); err != nil {
		return err
	}
	r, err := s.engine.RedeemScene(c.Request().Context(), id, bearer(c.Request()), c.RealIP(), c.Request().UserAgent())
	userID := ""
	if r != nil && r.Scene != nil {
		userID = r.Scene.ScannedBy
	}
	s.audit(c, "redeem", id, userID, err)
	if err != nil {
		return err
	}
	resp, err := s.issueTokens(c, r.User.ID, r.Session.ID, r.RefreshToken)
	if err != nil {
		return err
	}
	resp.User = &sessionUser{ID: r.User.ID, Nickname: scanlogin.CleanNickname(r.User.Nickname), AvatarURL: r.User.AvatarURL}
	return c.JSON(http.StatusOK, resp)
}

type sceneResult struct {
	Scene string `json:"scene"`
	State string `json:"state"`
}

// cancelByBrowser is DELETE /api/v1/qr/{scene}: the browser gives up.
func (s *Server) cancelByBrowser(c echo.Context) error {
	id, err := sceneParam(c)
	if err != nil {
		return err
	}
	sc, err := s.engine.CancelByBrowser(c.Request().Context(), id, bearer(c.Request()))
	s.audit(c, "cancel_by_browser", id, "", err)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, sceneResult{Scene: sc.ID, State: string(sc.State)})
}
