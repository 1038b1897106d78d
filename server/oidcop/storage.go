package oidcop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// Lifetimes (docs/OIDC.md#storage).
const (
	// authRequestTTL covers a whole scan: a pending code (2 min) and the
	// scene's hard cap (5 min), with room to spare.
	authRequestTTL = 10 * time.Minute
	// codeTTL is how long an authorization code may be exchanged.
	codeTTL = 60 * time.Second
	// codeKeep is how long a code's record outlives it, so that a late
	// second use is still recognised as reuse.
	codeKeep = 10 * time.Minute
	// idTokenLifetime is the ID tokens' exp.
	idTokenLifetime = time.Hour
)

// ctxKey carries per-request facts from the HTTP layer into the storage,
// which the library calls without the request.
type ctxKey int

const (
	ctxClientID ctxKey = iota // the client authenticating at the token endpoint
	ctxBrowser                // *browserInfo of the authorization request
	ctxOutage                 // *outage: the store failed during the request
)

// outage records that the store failed while the library handled a
// request, whatever error the library made of it (it answers a failed code
// lookup as invalid_grant).
type outage struct{ hit atomic.Bool }

// browserInfo is what the authorization endpoint learns of the browser:
// Binding is its BrowserCookie value.
type browserInfo struct{ IP, UserAgent, Binding string }

// storage is the op.Storage of the provider.
type storage struct {
	p   *Provider
	rdb redis.UniversalClient
	eng *scanlogin.Engine
	log *slog.Logger
	now func() time.Time
	kp  string
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// Keys. Everything of one browser session shares its hash tag.
func (s *storage) arKey(id string) string       { return s.kp + "oidc:ar:{" + id + "}" }
func (s *storage) arCodeKey(id string) string   { return s.kp + "oidc:ar:{" + id + "}:code" }
func (s *storage) codeKey(code string) string   { return s.kp + "oidc:code:{" + hashHex(code) + "}" }
func (s *storage) atKey(id string) string       { return s.kp + "oidc:at:{" + id + "}" }
func (s *storage) grantKey(id string) string    { return s.eng.GrantKey(id) }
func (s *storage) sidClients(sid string) string { return s.kp + "oidc:sid:{" + sid + "}:c" }
func (s *storage) sidGrants(sid string) string  { return s.kp + "oidc:sid:{" + sid + "}:g" }

func hashHex(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validID: 32 lowercase hex, the form of every ID we make.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// storeErr turns a Redis failure into the library's server_error (503 is
// not in OAuth's vocabulary); the cause goes to the log, not the answer.
func (s *storage) storeErr(ctx context.Context, op string, err error) error {
	s.log.Warn("oidc: store", "op", op, "err", err)
	if o, ok := ctx.Value(ctxOutage).(*outage); ok {
		o.hit.Store(true)
	}
	return oidc.ErrServerError().WithDescription("temporarily unavailable, try again")
}

func (s *storage) getJSON(ctx context.Context, key string, v any) (bool, error) {
	b, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

func (s *storage) setJSON(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, key, b, ttl).Err()
}

// CreateAuthRequest stores a validated authorization request. PKCE with
// S256 is required of public clients and the only method accepted from
// anyone (plain protects nothing a redirect leaks).
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	c, ok := s.p.clients.get(req.ClientID)
	if !ok {
		return nil, oidc.ErrInvalidClient()
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if c.cfg.Public && req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with S256) is required for this client")
	}
	if !slices.Contains(req.Scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	}
	a := &authRequest{
		ID:                  newID(),
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		State:               req.State,
		Nonce:               req.Nonce,
		Scopes:              req.Scopes,
		ResponseType:        req.ResponseType,
		ResponseMode:        req.ResponseMode,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		Prompt:              req.Prompt,
		MaxAge:              req.MaxAge,
		UILocales:           req.UILocales.String(),
		HintSubject:         hintSubject,
		CreatedAt:           s.now(),
	}
	if b, ok := ctx.Value(ctxBrowser).(*browserInfo); ok {
		a.IP, a.UserAgent = b.IP, b.UserAgent
		if b.Binding != "" {
			a.Browser = hashHex(b.Binding)
		}
	}
	if err := s.setJSON(ctx, s.arKey(a.ID), a, authRequestTTL); err != nil {
		return nil, s.storeErr(ctx, "create auth request", err)
	}
	return a, nil
}

// errNotFound is a storage miss the library answers as a client error.
var errNotFound = errors.New("oidcop: not found")

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.authRequest(ctx, id)
}

func (s *storage) authRequest(ctx context.Context, id string) (*authRequest, error) {
	if !validID(id) {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired authorization request").WithParent(errNotFound)
	}
	a := new(authRequest)
	ok, err := s.getJSON(ctx, s.arKey(id), a)
	if err != nil {
		return nil, s.storeErr(ctx, "auth request", err)
	}
	if !ok {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired authorization request").WithParent(errNotFound)
	}
	return a, nil
}

// completeAuthRequest records who signed in for the request.
func (s *storage) completeAuthRequest(ctx context.Context, a *authRequest, sess *scanlogin.Session) error {
	a.UserID, a.SessionID, a.AuthTime, a.IsDone = sess.UserID, sess.ID, sess.CreatedAt, true
	ttl := authRequestTTL - s.now().Sub(a.CreatedAt)
	if ttl <= time.Second {
		return oidc.ErrInvalidRequest().WithDescription("the authorization request expired")
	}
	if err := s.setJSON(ctx, s.arKey(a.ID), a, ttl); err != nil {
		return s.storeErr(ctx, "complete auth request", err)
	}
	return nil
}

// SaveAuthCode records the code of a signed-in request. A request gives
// one code only: a replayed callback must not mint a second.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	ok, err := s.rdb.SetNX(ctx, s.arCodeKey(id), "1", authRequestTTL).Result()
	if err != nil {
		return s.storeErr(ctx, "save code", err)
	}
	if !ok {
		return oidc.ErrInvalidRequest().WithDescription("this authorization request has already been answered")
	}
	exp := s.now().Add(codeTTL).UnixMilli()
	k := s.codeKey(code)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "ar", id, "st", "issued", "exp", exp)
		p.PExpire(ctx, k, codeKeep)
		return nil
	})
	if err != nil {
		return s.storeErr(ctx, "save code", err)
	}
	return nil
}

// consumeCodeLua spends a code. KEYS[1] the code. Replies {'ok', auth
// request, expiry ms}, {'reused', grant, access token} or {'none'}.
var consumeCodeLua = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'ar', 'st', 'exp', 'g', 'at')
if not h[1] then return {'none'} end
if h[2] == 'issued' then
  redis.call('HSET', KEYS[1], 'st', 'used')
  return {'ok', h[1], h[3]}
end
redis.call('HSET', KEYS[1], 'st', 'reused')
return {'reused', h[4] or '', h[5] or ''}
`)

// attachCodeLua records what a code's exchange issued. KEYS[1] the code.
// ARGV: grant, access token. Reply 1 when the code was reused meanwhile
// (the caller revokes what it just issued).
var attachCodeLua = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'g', ARGV[1], 'at', ARGV[2])
if redis.call('HGET', KEYS[1], 'st') == 'reused' then return 1 end
return 0
`)

// AuthRequestByCode spends the code: it works once. A second use revokes
// what the first issued (RFC 6749 §4.1.2).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if code == "" || len(code) > 512 {
		return nil, errNotFound
	}
	k := s.codeKey(code)
	res, err := consumeCodeLua.Run(ctx, s.rdb, []string{k}).StringSlice()
	if err != nil {
		return nil, s.storeErr(ctx, "consume code", err)
	}
	switch res[0] {
	case "ok":
	case "reused":
		s.log.Warn("security: authorization code used twice; what it issued is revoked")
		s.revokeIssued(ctx, res[1], res[2])
		return nil, errors.New("oidcop: code reused")
	default:
		return nil, errNotFound
	}
	var exp int64
	fmt.Sscan(res[2], &exp)
	if s.now().UnixMilli() >= exp {
		return nil, errors.New("oidcop: code expired")
	}
	a, err := s.authRequest(ctx, res[1])
	if err != nil {
		return nil, err
	}
	if !a.IsDone {
		return nil, errNotFound
	}
	a.codeKey = k
	return a, nil
}

// revokeIssued ends a grant and an access token (code reuse).
func (s *storage) revokeIssued(ctx context.Context, grantID, atID string) {
	ctx = context.WithoutCancel(ctx)
	if validID(atID) {
		_ = s.rdb.Del(ctx, s.atKey(atID)).Err()
	}
	if validID(grantID) {
		if err := s.eng.RevokeSession(ctx, grantID); err != nil && !errors.Is(err, scanlogin.ErrSessionNotFound) {
			s.log.Warn("oidc: revoke grant", "grant", grantID, "err", err)
		}
	}
}

func (s *storage) attachToCode(ctx context.Context, a *authRequest, grantID, atID string) {
	if a.codeKey == "" {
		return
	}
	reused, err := attachCodeLua.Run(ctx, s.rdb, []string{a.codeKey}, grantID, atID).Int()
	if err == nil && reused == 1 {
		s.log.Warn("security: authorization code reused during its exchange; revoking what it issued")
		s.revokeIssued(ctx, grantID, atID)
	}
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	// The code's own record stays (reuse detection); the request goes.
	if err := s.rdb.Del(ctx, s.arKey(id)).Err(); err != nil {
		s.log.Warn("oidc: delete auth request", "err", err)
	}
	return nil
}

// browserSessionAlive: the browser session a token is for still lives.
func (s *storage) browserSessionAlive(ctx context.Context, sid string) error {
	_, err := s.eng.SessionAlive(ctx, sid)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, scanlogin.ErrSessionNotFound):
		return oidc.ErrInvalidGrant().WithDescription("the session has ended")
	default:
		return s.storeErr(ctx, "session", err)
	}
}

// newAccessToken stores an access token record and returns its ID.
func (s *storage) newAccessToken(ctx context.Context, at *accessToken) (string, time.Time, error) {
	at.ID = newID()
	at.ExpiresAt = s.now().Add(s.p.opts.AccessTokenTTL)
	if err := s.setJSON(ctx, s.atKey(at.ID), at, s.p.opts.AccessTokenTTL); err != nil {
		return "", time.Time{}, s.storeErr(ctx, "access token", err)
	}
	return at.ID, at.ExpiresAt, nil
}

// noteClient remembers that client got tokens for the browser session, for
// back-channel logout.
func (s *storage) noteClient(ctx context.Context, sid, clientID, grantID string) error {
	ttl := s.p.opts.SessionTTL
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, s.sidClients(sid), clientID)
		p.PExpire(ctx, s.sidClients(sid), ttl)
		if grantID != "" {
			p.SAdd(ctx, s.sidGrants(sid), grantID)
			p.PExpire(ctx, s.sidGrants(sid), ttl)
		}
		return nil
	})
	return err
}

// CreateAccessToken: the code flow without offline_access.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	if err := s.browserSessionAlive(ctx, a.SessionID); err != nil {
		return "", time.Time{}, err
	}
	if err := s.noteClient(ctx, a.SessionID, a.ClientID, ""); err != nil {
		return "", time.Time{}, s.storeErr(ctx, "note client", err)
	}
	id, exp, err := s.newAccessToken(ctx, &accessToken{UserID: a.UserID, ClientID: a.ClientID, SessionID: a.SessionID, Scopes: a.Scopes})
	if err != nil {
		return "", time.Time{}, err
	}
	s.attachToCode(ctx, a, "", id)
	s.p.signedIn(a)
	return id, exp, nil
}

// CreateAccessAndRefreshTokens: the code flow with offline_access starts a
// grant (an engine session); the refresh grant rotates its refresh token
// through the engine, which detects reuse and ends the session.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	switch r := req.(type) {
	case *authRequest:
		if err := s.browserSessionAlive(ctx, r.SessionID); err != nil {
			return "", "", time.Time{}, err
		}
		sess, refresh, err := s.eng.CreateSession(ctx, r.UserID, r.IP, r.UserAgent)
		if err != nil {
			return "", "", time.Time{}, s.storeErr(ctx, "create grant", err)
		}
		g := &grant{ID: sess.ID, ClientID: r.ClientID, UserID: r.UserID, SessionID: r.SessionID, Scopes: r.Scopes, AuthTime: r.AuthTime}
		if err := s.setJSON(ctx, s.grantKey(g.ID), g, s.p.opts.SessionTTL); err != nil {
			_ = s.eng.RevokeSession(context.WithoutCancel(ctx), g.ID)
			return "", "", time.Time{}, s.storeErr(ctx, "create grant", err)
		}
		if err := s.noteClient(ctx, r.SessionID, r.ClientID, g.ID); err != nil {
			_ = s.eng.RevokeSession(context.WithoutCancel(ctx), g.ID)
			return "", "", time.Time{}, s.storeErr(ctx, "note client", err)
		}
		id, exp, err := s.newAccessToken(ctx, &accessToken{UserID: r.UserID, ClientID: r.ClientID, SessionID: r.SessionID, GrantID: g.ID, Scopes: r.Scopes})
		if err != nil {
			return "", "", time.Time{}, err
		}
		s.attachToCode(ctx, r, g.ID, id)
		s.p.signedIn(r)
		return id, refresh, exp, nil
	case *refreshRequest:
		sess, next, err := s.eng.RefreshGrant(ctx, current)
		switch {
		case errors.Is(err, scanlogin.ErrRefreshReused):
			// The engine has ended the grant; its hook ends the browser
			// session and tells every client (backchannel.go).
			s.log.Warn("security: spent OIDC refresh token presented; session revoked", "client_id", r.g.ClientID)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token reused; the session has ended")
		case errors.Is(err, scanlogin.ErrInvalidToken):
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
		case err != nil:
			return "", "", time.Time{}, s.storeErr(ctx, "refresh", err)
		}
		if sess.ID != r.g.ID {
			return "", "", time.Time{}, oidc.ErrInvalidGrant()
		}
		if err := s.browserSessionAlive(ctx, r.g.SessionID); err != nil {
			return "", "", time.Time{}, err
		}
		id, exp, err := s.newAccessToken(ctx, &accessToken{UserID: r.g.UserID, ClientID: r.g.ClientID, SessionID: r.g.SessionID, GrantID: r.g.ID, Scopes: r.GetScopes()})
		if err != nil {
			return "", "", time.Time{}, err
		}
		return id, next, exp, nil
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

// grantOf reads the grant a refresh token belongs to ("<grant>.<secret>").
func (s *storage) grantOf(ctx context.Context, refreshToken string) (*grant, error) {
	gid, _, ok := strings.Cut(refreshToken, ".")
	if !ok || !validID(gid) {
		return nil, op.ErrInvalidRefreshToken
	}
	g := new(grant)
	found, err := s.getJSON(ctx, s.grantKey(gid), g)
	if err != nil {
		return nil, s.storeErr(ctx, "grant", err)
	}
	if !found {
		return nil, op.ErrInvalidRefreshToken
	}
	return g, nil
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	g, err := s.grantOf(ctx, token)
	if err != nil {
		return nil, err
	}
	return &refreshRequest{g: g, token: token}, nil
}

// TerminateSession is replaced by TerminateSessionFromRequest.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest ends the session the end-session handler
// chose (endSession: the hint's when it is this browser's, or, confirmed,
// this browser's own). Ending it tells every client through back-channel
// logout.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	sid, _ := ctx.Value(ctxEndSession).(string)
	if validID(sid) {
		err := s.eng.RevokeSession(ctx, sid)
		if err != nil && !errors.Is(err, scanlogin.ErrSessionNotFound) {
			return "", s.storeErr(ctx, "end session", err)
		}
		if err == nil {
			s.log.Info("audit", "action", "oidc_logout", "session_id", sid, "client_id", req.ClientID, "outcome", "ok")
		}
	}
	return req.RedirectURI, nil
}

// RevokeToken (RFC 7009): an access token (by ID) or a refresh token (its
// grant ends). Unknown tokens are not an error.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	if userID != "" {
		at := new(accessToken)
		found, err := s.getJSON(ctx, s.atKey(tokenOrID), at)
		if err != nil {
			return oidc.ErrServerError()
		}
		if found && at.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("the token was not issued to this client")
		}
		if err := s.rdb.Del(ctx, s.atKey(tokenOrID)).Err(); err != nil {
			return oidc.ErrServerError()
		}
		return nil
	}
	g, err := s.grantOf(ctx, tokenOrID)
	if errors.Is(err, op.ErrInvalidRefreshToken) {
		return nil // unknown: nothing to do (RFC 7009 §2.2)
	}
	if err != nil {
		return oidc.ErrServerError() // the client must try again: nothing was revoked
	}
	if g.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was not issued to this client")
	}
	if err := s.eng.RevokeSession(ctx, g.ID); err != nil && !errors.Is(err, scanlogin.ErrSessionNotFound) {
		return oidc.ErrServerError()
	}
	return nil
}

// GetRefreshTokenInfo answers no user ID on purpose: RevokeToken tells a
// refresh token (no user ID) from an access token ID (with one). A store
// that fails is a server error, not an unknown token: a revocation must not
// answer 200 when nothing was revoked.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	if _, err := s.grantOf(ctx, token); err != nil {
		return "", "", err
	}
	return "", token, nil
}

// SigningKey signs with the algorithm the client asked for: RS256 unless
// it registered EdDSA. The token endpoint puts the client in the context.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := AlgRS256
	if id, ok := ctx.Value(ctxClientID).(string); ok {
		if c, ok := s.p.clients.get(id); ok {
			alg = c.cfg.IDTokenAlg
		}
	}
	return s.p.keys.signer(alg), nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256, jose.EdDSA}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) { return s.p.keys.public(), nil }

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.p.clients.get(id)
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := s.p.clients.get(id)
	if !ok || !c.checkSecret(secret) {
		return oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil // deprecated by the library; SetUserinfoFromRequest does it
}

func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	sid := ""
	switch r := req.(type) {
	case *authRequest:
		sid = r.SessionID
	case *refreshRequest:
		sid = r.g.SessionID
	}
	if err := s.p.fillUserinfo(ctx, ui, req.GetSubject(), req.GetClientID(), scopes); err != nil {
		return err
	}
	if sid != "" {
		ui.AppendClaims("sid", sid)
	}
	return nil
}

// accessTokenRecord returns a live access token: its record exists, has
// not expired, belongs to subject, and its sessions are alive.
func (s *storage) accessTokenRecord(ctx context.Context, id, subject string) (*accessToken, error) {
	if !validID(id) {
		return nil, oidc.ErrAccessDenied().WithDescription("invalid token")
	}
	at := new(accessToken)
	found, err := s.getJSON(ctx, s.atKey(id), at)
	if err != nil {
		return nil, s.storeErr(ctx, "access token", err)
	}
	if !found || at.UserID != subject || !s.now().Before(at.ExpiresAt) {
		return nil, oidc.ErrAccessDenied().WithDescription("invalid token")
	}
	for _, sid := range []string{at.GrantID, at.SessionID} {
		if sid == "" {
			continue
		}
		if err := s.browserSessionAlive(ctx, sid); err != nil {
			return nil, oidc.ErrAccessDenied().WithDescription("the session has ended")
		}
	}
	return at, nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	at, err := s.accessTokenRecord(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	if err := s.p.fillUserinfo(ctx, ui, at.UserID, at.ClientID, at.Scopes); err != nil {
		return err
	}
	ui.AppendClaims("sid", at.SessionID)
	return nil
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, ir *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	at, err := s.accessTokenRecord(ctx, tokenID, subject)
	if err != nil || at.ClientID != clientID {
		return oidc.ErrAccessDenied()
	}
	ir.Active = true
	ir.Subject = at.UserID
	ir.ClientID = at.ClientID
	ir.Scope = at.Scopes
	ir.Expiration = oidc.FromTime(at.ExpiresAt)
	ir.Audience = []string{at.ClientID}
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidcop: JWT client authentication is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidcop: JWT profile grant is not supported")
}

func (s *storage) Health(ctx context.Context) error { return s.eng.Ping(ctx) }
