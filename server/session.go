package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// SessionCookie is the name of the web session cookie (it holds the access
// token, for pages that prefer cookies to the Authorization header).
const SessionCookie = "scanlogin_session"

// issueTokens signs an access token for the session, sets the cookie and
// returns the token response (Cache-Control: no-store).
func (s *Server) issueTokens(c echo.Context, userID, sessionID, refresh string) (*tokenResponse, error) {
	access, ttl, err := s.tokens.Sign(userID, sessionID)
	if err != nil {
		return nil, err
	}
	s.setSessionCookie(c, access, ttl)
	noStore(c)
	return &tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: seconds(ttl), RefreshToken: refresh}, nil
}

func (s *Server) setSessionCookie(c echo.Context, value string, ttl time.Duration) {
	ck := &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secureCookies,
		SameSite: http.SameSiteLaxMode,
	}
	if ttl > 0 {
		ck.MaxAge = int(ttl / time.Second)
		ck.Expires = s.now().Add(ttl)
	} else {
		ck.MaxAge = -1
	}
	c.SetCookie(ck)
}

// SecureCookies tells whether cookies get the Secure attribute: the rule
// below, for the other cookie setters (the OpenID provider).
func SecureCookies(devMode bool, publicURL string) bool { return secureCookies(devMode, publicURL) }

// secureCookies: Secure everywhere except the plain-HTTP demo, where the
// browser would otherwise drop the cookie (docs/ARCHITECTURE.md#security).
// That is localhost, and also a LAN address such as http://192.168.1.20:8080,
// which README.md gives for scanning with a real phone: a browser keeps no
// Secure cookie set over plain HTTP on any host. With real WeChat
// credentials a cookie is always Secure, whatever the URL.
func secureCookies(devMode bool, publicURL string) bool {
	if !devMode {
		return true
	}
	u, err := url.Parse(publicURL)
	return err != nil || u.Scheme != "http"
}

// webSession authenticates a browser by its access token: the
// Authorization header, else the session cookie. Cookie-authenticated
// requests must come from our own origin (or an allowed one).
// The session must still be alive, so logout and remote revocation act at
// once.
func (s *Server) webSession(c echo.Context) (*accessClaims, error) {
	raw := bearer(c.Request())
	if raw == "" {
		ck, err := c.Cookie(SessionCookie)
		if err != nil || ck.Value == "" {
			return nil, errUnauthorized
		}
		if err := s.checkOrigin(c); err != nil {
			return nil, err
		}
		raw = ck.Value
	}
	claims, err := s.tokens.Verify(raw)
	if err != nil {
		return nil, err
	}
	sess, err := s.engine.SessionAlive(c.Request().Context(), claims.SessionID)
	if err != nil {
		return nil, err
	}
	if sess.UserID != claims.Subject {
		return nil, errUnauthorized
	}
	return claims, nil
}

// checkOrigin refuses cross-site requests that carry the cookie (docs/ARCHITECTURE.md#security):
// when the browser says where a request comes from (Origin, or
// Sec-Fetch-Site), it must be us or an allowed origin. Clients that say
// nothing (not browsers) are let through; they hold the token anyway.
func (s *Server) checkOrigin(c echo.Context) error {
	r := c.Request()
	origin := r.Header.Get(echo.HeaderOrigin)
	if origin == "" {
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			return errForbiddenOrigin
		}
		return nil
	}
	if s.trustedOrigin(origin, r) {
		return nil
	}
	return errForbiddenOrigin
}

func (s *Server) trustedOrigin(origin string, r *http.Request) bool {
	if strings.EqualFold(origin, s.publicOrigin) {
		return true
	}
	for _, o := range s.opts.AllowedOrigins {
		if strings.EqualFold(origin, o) {
			return true
		}
	}
	// The host the browser used, when it differs from the public URL (a
	// demo opened by IP).
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) && (u.Scheme == "https" || !s.secureCookies)
}

// me is GET /api/v1/me.
func (s *Server) me(c echo.Context) error {
	claims, err := s.webSession(c)
	if err != nil {
		return err
	}
	u, err := s.engine.User(c.Request().Context(), claims.Subject)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, toMPUser(u))
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh is POST /api/v1/session/refresh: a refresh token works once; a
// spent one kills the session (the engine revokes it, we answer 401).
func (s *Server) refresh(c echo.Context) error {
	// It sets the session cookie: a cross-site page must not log the
	// browser in to someone else's session (login CSRF).
	if err := s.checkOrigin(c); err != nil {
		return err
	}
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := required("refresh_token", req.RefreshToken); err != nil {
		return err
	}
	sess, refresh, err := s.engine.RefreshSession(c.Request().Context(), req.RefreshToken)
	if err != nil {
		if errors.Is(err, scanlogin.ErrRefreshReused) {
			s.log.Warn("security: spent refresh token presented; session revoked", "ip", c.RealIP(), "user_agent", c.Request().UserAgent())
		}
		if errorFor(err).Status == http.StatusUnauthorized {
			s.setSessionCookie(c, "", 0)
		}
		return err
	}
	resp, err := s.issueTokens(c, sess.UserID, sess.ID, refresh)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

// logout is POST /api/v1/session/logout: the session ends; its access
// tokens are refused by /api/v1/me from now on.
func (s *Server) logout(c echo.Context) error {
	claims, err := s.webSession(c)
	if err != nil {
		return err
	}
	if err := s.engine.RevokeSession(c.Request().Context(), claims.SessionID); err != nil {
		return err
	}
	s.setSessionCookie(c, "", 0)
	s.log.Info("audit", "action", "logout", "session_id", claims.SessionID, "user_id", claims.Subject, "ip", c.RealIP(), "outcome", "ok")
	noStore(c)
	return c.NoContent(http.StatusNoContent)
}

// jwks is GET /.well-known/jwks.json.
func (s *Server) jwks(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	keys := make([]any, 0, 4)
	for _, k := range s.tokens.JWKS()["keys"] {
		keys = append(keys, k)
	}
	if s.opts.OIDC != nil {
		// The ID tokens' RSA keys; the Ed25519 ones above sign EdDSA ID
		// tokens too (docs/OIDC.md#keys).
		for _, k := range s.opts.OIDC.RSAJWKs() {
			keys = append(keys, k)
		}
	}
	return c.JSON(http.StatusOK, map[string][]any{"keys": keys})
}
