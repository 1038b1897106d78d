package server

// The user's web sessions, seen and ended from the phone.

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
)

type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Label      string    `json:"label"` // browserLabel of UserAgent
}

// mpSessions is GET /api/v1/mp/sessions: the user's live web sessions.
func (s *Server) mpSessions(c echo.Context) error {
	uid, err := s.phoneUser(c, "")
	if err != nil {
		return err
	}
	list, err := s.engine.UserSessions(c.Request().Context(), uid)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, 0, len(list))
	for _, ss := range list {
		out = append(out, sessionJSON{ID: ss.ID, CreatedAt: ss.CreatedAt.UTC(), LastSeenAt: ss.LastSeenAt.UTC(), IP: ss.IP, UserAgent: ss.UserAgent, Label: browserLabel(ss.UserAgent)})
	}
	noStore(c)
	return c.JSON(http.StatusOK, map[string][]sessionJSON{"sessions": out})
}

// mpRevokeSession is DELETE /api/v1/mp/sessions/{id}: sign a browser out
// from the phone. Only the session's own user may do it.
func (s *Server) mpRevokeSession(c echo.Context) error {
	uid, err := s.phoneUser(c, "")
	if err != nil {
		return err
	}
	id := c.Param("id")
	ctx := c.Request().Context()
	sess, err := s.engine.SessionAlive(ctx, id)
	if errors.Is(err, scanlogin.ErrSessionNotFound) || (err == nil && sess.UserID != uid) {
		return errSessionNotFound
	}
	if err != nil {
		return err
	}
	if err := s.engine.RevokeSession(ctx, id); err != nil {
		return err
	}
	s.log.Info("audit", "action", "revoke_session", "session_id", id, "user_id", uid, "ip", c.RealIP(), "outcome", "ok")
	return c.NoContent(http.StatusNoContent)
}
