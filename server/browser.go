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

// Long-poll bounds of GET /api/v1/qr/{scene}/state (SPEC §4).
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

// validSceneID: 32 lowercase hex characters (SPEC §3).
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
		QRImageURL:  s.cfg.PublicURL + "/api/v1/qr/" + sc.ID + "/image",
		MatchCode:   sc.MatchCode,
		NumberMatch: s.cfg.NumberMatch,
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
// once per scene (one WeChat call) and cached in Redis for the scene's life.
func (s *Server) sceneImage(c echo.Context) error {
	id, err := sceneParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ctype, data, err := s.engine.SceneImage(ctx, id)
	if errors.Is(err, scanlogin.ErrSceneNotFound) {
		ctype, data, err = s.makeSceneImage(ctx, id)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "private, max-age=300")
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, ctype, data)
}

// makeSceneImage asks WeChat for the code of a live scene. Concurrent
// requests for one scene in this process share one call (instances race
// only for the first image of a scene: at worst one extra WeChat call).
func (s *Server) makeSceneImage(ctx context.Context, id string) (string, []byte, error) {
	res, err := s.qrCalls.Do(ctx, id, func() (qrImage, error) {
		// The call serves every waiting request, so the first one hanging
		// up must not cancel it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		sc, err := s.engine.Scene(ctx, id)
		if err != nil {
			return qrImage{}, err
		}
		if sc.State.Final() {
			// No image for a finished scene: say why.
			if sc.State == scanlogin.StateExpired {
				return qrImage{}, scanlogin.ErrSceneExpired
			}
			return qrImage{}, scanlogin.ErrSceneFinal
		}
		// check_path only works against the released version of the
		// mini-program; trial and develop builds must skip it.
		checkPath := s.cfg.MPEnvVersion == "release"
		data, ctype, err := s.wx.UnlimitedQRCode(ctx, id, s.cfg.MPPage, s.cfg.MPEnvVersion, checkPath, 280)
		if err != nil {
			return qrImage{}, err
		}
		if err := s.engine.PutSceneImage(ctx, id, ctype, data); err != nil {
			return qrImage{}, err
		}
		return qrImage{ctype: ctype, data: data}, nil
	})
	return res.ctype, res.data, err
}

type qrImage struct {
	ctype string
	data  []byte
}

// pollWait parses the wait parameter: seconds, default 25, clamped to 30.
func pollWait(v string) (time.Duration, error) {
	if v == "" {
		return defaultPollWait, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, invalidRequest("wait: must be a non-negative number of seconds")
	}
	return min(time.Duration(n)*time.Second, maxPollWait), nil
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

// sceneState is GET /api/v1/qr/{scene}/state?since=V&wait=S, the long poll.
// Thousands of these sleep at once. Over HTTP/1.1 a poll that must sleep is
// parked off net/http (park.go). Over HTTP/2 it sleeps under the middleware
// on its stream's goroutine, so the frames live while it sleeps are kept
// small (see scanlogin.Waiter): the work before and after is in helpers,
// the sleep is the engine's Wait in its two halves, and the handler is a
// closure (a method value would add a wrapper frame).
func (s *Server) sceneState() echo.HandlerFunc {
	return func(c echo.Context) error {
		w, sc, since, err := s.startPoll(c)
		if w != nil {
			if s.park(c, w, since) {
				return errParked
			}
			sc, err = w.Sleep(c.Request().Context())
			s.metrics.waitingPolls.Dec()
		}
		if err != nil {
			return err
		}
		return s.answerState(c, sc, since)
	}
}

// startPoll checks a long poll and starts its wait: a nil Waiter comes with
// the answer (or the error) at once.
func (s *Server) startPoll(c echo.Context) (*scanlogin.Waiter, *scanlogin.Scene, int64, error) {
	id, since, wait, err := s.pollArgs(c)
	if err != nil {
		return nil, nil, 0, err
	}
	s.metrics.waitingPolls.Inc()
	w, sc, err := s.engine.StartWait(c.Request().Context(), id, bearer(c.Request()), since, wait)
	if w == nil {
		s.metrics.waitingPolls.Dec()
	}
	return w, sc, since, err
}

// pollArgs checks a long poll's scene ID and parameters. Its rate limit is
// counted by the engine, in the poll's first read.
func (s *Server) pollArgs(c echo.Context) (id string, since int64, wait time.Duration, err error) {
	if id, err = sceneParam(c); err != nil {
		return "", 0, 0, err
	}
	// Parsed here rather than with c.QueryParam, which would keep the
	// parsed query in the Echo context for the whole wait.
	q := c.Request().URL.Query()
	if v := q.Get("since"); v != "" { // no version is 0, so an absent since answers at once
		if since, err = strconv.ParseInt(v, 10, 64); err != nil || since < 0 {
			return "", 0, 0, invalidRequest("since: must be a non-negative integer")
		}
	}
	if wait, err = pollWait(q.Get("wait")); err != nil {
		return "", 0, 0, err
	}
	if s.draining.Load() {
		wait = 0 // shutting down: answer at once, the browser polls elsewhere
	}
	return id, since, wait, nil
}

// answerState writes the answer of a long poll that saw sc.
func (s *Server) answerState(c echo.Context, sc *scanlogin.Scene, since int64) error {
	resp := sceneStateResponse{Scene: sc.ID, State: string(sc.State), Version: sc.Version, ExpiresIn: seconds(sc.ExpiresIn(s.now()))}
	// The scanner is shown while the phone decides, so scanned_by comes
	// with news of "scanned" only: an unchanged answer (the wait ran out)
	// leaves it out and clients keep what they have, and "confirmed" leaves
	// it out too (the browser redeems at once and redeem returns the user),
	// which keeps a Redis read off the path of the login's last wake-up.
	if sc.ScannedBy != "" && sc.State == scanlogin.StateScanned && (since == 0 || sc.Version != since) {
		u, err := s.engine.User(c.Request().Context(), sc.ScannedBy)
		switch {
		case err == nil:
			resp.ScannedBy = &scannedBy{Nickname: u.Nickname, AvatarURL: u.AvatarURL}
		case !errors.Is(err, scanlogin.ErrUserNotFound):
			return err
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
// scene, it opens the web session.
func (s *Server) redeem(c echo.Context) error {
	id, err := sceneParam(c)
	if err != nil {
		return err
	}
	if err := decodeJSON(c, &struct{}{}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	pollToken := bearer(c.Request())
	// Everything that may fail for a while (Redis) is read before the
	// scene is spent: once Redeem has succeeded, a retry can only be
	// refused as already_redeemed. The scanner of a confirmed scene cannot
	// change, so the user read here is the one Redeem returns.
	pre, err := s.engine.Authorize(ctx, id, pollToken)
	if err != nil {
		return err
	}
	var u *scanlogin.User
	if pre.State == scanlogin.StateConfirmed {
		if u, err = s.engine.User(ctx, pre.ScannedBy); err != nil {
			return err
		}
	}
	sc, err := s.engine.Redeem(ctx, id, pollToken)
	userID := ""
	if sc != nil {
		userID = sc.ScannedBy
	}
	s.audit(c, "redeem", id, userID, err)
	if err != nil {
		return err
	}
	if u == nil || u.ID != sc.ScannedBy {
		// Confirmed only after it was read: the scene is spent now, so a
		// failure here is final.
		if u, err = s.engine.User(context.WithoutCancel(ctx), sc.ScannedBy); err != nil {
			return redeemFailed(err)
		}
	}
	sess, refresh, err := s.engine.CreateSessionForScene(ctx, id, u.ID, c.RealIP(), c.Request().UserAgent())
	if err != nil && !errors.Is(err, scanlogin.ErrAlreadyRedeemed) {
		// The scene is spent: retry once even if the client has gone, then
		// give up for good.
		sess, refresh, err = s.engine.CreateSessionForScene(context.WithoutCancel(ctx), id, u.ID, c.RealIP(), c.Request().UserAgent())
		if err != nil {
			return redeemFailed(err)
		}
	}
	if err != nil {
		return err // a second session for the scene (after a Redis failover)
	}
	resp, err := s.issueTokens(c, u.ID, sess.ID, refresh)
	if err != nil {
		return err
	}
	resp.User = &sessionUser{ID: u.ID, Nickname: u.Nickname, AvatarURL: u.AvatarURL}
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
