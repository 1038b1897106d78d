package oidcop

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// Endpoint paths (docs/OIDC.md#endpoints). Discovery is at the issuer's
// /.well-known/openid-configuration; the JWKS is the server's
// /.well-known/jwks.json, which publishes these keys too.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathAuthorize  = "/oidc/authorize"
	PathCallback   = "/oidc/authorize/callback"
	PathToken      = "/oidc/token"
	PathUserinfo   = "/oidc/userinfo"
	PathRevoke     = "/oidc/revoke"
	PathIntrospect = "/oidc/introspect"
	PathEndSession = "/oidc/end_session"
	PathLogin      = "/oidc/login"
	PathLoginInfo  = "/oidc/login/info"
	PathLoggedOut  = "/oidc/logged-out"
	PathJWKS       = "/.well-known/jwks.json"
	PathDevRP      = "/dev/rp/"
)

// SSOCookie remembers the browser's scanlogin session for single sign-on
// at the authorization endpoint; it holds the session ID with a MAC, and
// the session must still be alive (docs/OIDC.md#single-sign-on).
const SSOCookie = "scanlogin_op"

// BrowserCookie (with "_" and 16 hex digits of the hash: one cookie per
// request) binds authorization requests to the browser that made them: a
// random value, set at the authorization endpoint, whose hash each request
// keeps (authRequest.Browser). The login step, the scan page's request
// lookup and the callback refuse a browser without it, so a request's ID,
// seen or sent by someone else, signs no other browser in and hands its code
// to no other browser (OAuth 2.0 security BCP, RFC 9700 section 4.7).
const BrowserCookie = "scanlogin_op_browser"

// Options are what a Provider is made of.
type Options struct {
	Issuer  string // SCANLOGIN_ISSUER exactly; an absolute URL without path
	Engine  *scanlogin.Engine
	Redis   redis.UniversalClient
	Clients []ClientConfig
	RSAKeys []RSAKey // [0] signs ID tokens (RS256)
	EdKeys  []EdKey  // [0] signs ID tokens of EdDSA clients
	// Secret derives the key that seals opaque access tokens and the MAC
	// of the SSO cookie; every instance must have the same (the app passes
	// the session-key secret).
	Secret []byte
	// SessionFromCookie returns the ID of the browser's scanlogin session
	// from its session cookie, if it carries a valid one.
	SessionFromCookie func(*http.Request) (string, bool)
	SecureCookies     bool
	// SessionCookieName is the server's session cookie, cleared by
	// RP-initiated logout.
	SessionCookieName string
	LoginPage         string // the scan page; default "/"
	AccessTokenTTL    time.Duration
	SessionTTL        time.Duration
	// DevRP serves the demo relying party at /dev/rp/ with the client of
	// this ID (dev mode).
	DevRP      string
	HTTPClient *http.Client // back-channel logout; default 5 s timeout
	Logger     *slog.Logger
	Now        func() time.Time
	KeyPrefix  string // default "sl:"
}

// Provider is the OpenID provider: an http.Handler for Paths.
type Provider struct {
	opts      Options
	log       *slog.Logger
	now       func() time.Time
	op        *op.Provider
	discovery http.Handler // discover, with the library's CORS rules
	st        *storage
	clients   clientSet
	keys      keyring
	ssoKey    []byte
	issuer    *url.URL
	callback  func(context.Context, string) string
	bcl       *backchannel
	devRP     *devRP
}

// New builds a Provider.
func New(opts Options) (*Provider, error) {
	if opts.Engine == nil || opts.Redis == nil {
		return nil, errors.New("oidcop: Engine and Redis are required")
	}
	iss, err := url.Parse(opts.Issuer)
	if err != nil || (iss.Scheme != "https" && iss.Scheme != "http") || iss.Host == "" || (iss.Path != "" && iss.Path != "/") || iss.RawQuery != "" {
		return nil, fmt.Errorf("oidcop: issuer: want an absolute http(s) URL without path, got %q", opts.Issuer)
	}
	if len(opts.RSAKeys) == 0 || opts.RSAKeys[0].Private == nil {
		return nil, errors.New("oidcop: a private RSA key is required")
	}
	if len(opts.EdKeys) == 0 || opts.EdKeys[0].Private == nil {
		return nil, errors.New("oidcop: a private Ed25519 key is required")
	}
	if len(opts.Secret) < 32 {
		return nil, errors.New("oidcop: Secret must have at least 32 bytes")
	}
	if opts.SessionFromCookie == nil {
		opts.SessionFromCookie = func(*http.Request) (string, bool) { return "", false }
	}
	if opts.LoginPage == "" {
		opts.LoginPage = "/"
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = 15 * time.Minute
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 30 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = "sl:"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	opts.Issuer = strings.TrimRight(opts.Issuer, "/")
	p := &Provider{
		opts:   opts,
		log:    opts.Logger.With("component", "oidc"),
		now:    opts.Now,
		keys:   keyring{rsa: opts.RSAKeys, ed: opts.EdKeys},
		ssoKey: derive(opts.Secret, "scanlogin oidc sso cookie"),
		issuer: iss,
	}
	p.SetClients(opts.Clients)
	p.st = &storage{p: p, rdb: opts.Redis, eng: opts.Engine, log: p.log, now: opts.Now, kp: opts.KeyPrefix}

	var cryptoKey [32]byte
	copy(cryptoKey[:], derive(opts.Secret, "scanlogin oidc access tokens"))
	cfg := &op.Config{
		CryptoKey:                         cryptoKey,
		DefaultLogoutRedirectURI:          PathLoggedOut,
		CodeMethodS256:                    true,
		AuthMethodPost:                    true,
		GrantTypeRefreshToken:             true,
		SupportedUILocales:                nil,
		SupportedClaims:                   supportedClaims,
		SupportedScopes:                   []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess},
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}
	oopts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(PathAuthorize), op.NewEndpoint(PathToken), op.NewEndpoint(PathUserinfo),
			op.NewEndpoint(PathRevoke), op.NewEndpoint(PathEndSession), op.NewEndpoint(PathJWKS)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(PathIntrospect)),
		op.WithCORSOptions(&corsOptions),
		// The provider's own ID tokens come back as id_token_hint, in
		// every algorithm it signs with (the library's default would
		// refuse EdDSA clients' hints).
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(idTokenAlgs...)),
	}
	if iss.Scheme == "http" {
		oopts = append(oopts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(cfg, p.st, op.StaticIssuer(opts.Issuer), oopts...)
	if err != nil {
		return nil, fmt.Errorf("oidcop: %w", err)
	}
	p.callback = op.AuthCallbackURL(p.op)
	p.discovery = cors.New(corsOptions).Handler(http.HandlerFunc(p.discover))
	p.bcl = newBackchannel(p)
	if opts.DevRP != "" {
		p.devRP = &devRP{p: p, clientID: opts.DevRP}
	}
	return p, nil
}

// corsOptions: browsers' single-page clients call discovery, the token and
// UserInfo endpoints from any origin, never with cookies.
var corsOptions = cors.Options{
	AllowOriginFunc: func(string) bool { return true },
	AllowedMethods:  []string{http.MethodGet, http.MethodPost},
	AllowedHeaders:  []string{"Authorization", "Content-Type"},
}

var supportedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "azp", "at_hash", "c_hash",
	"name", "nickname", "picture", "phone_number", "phone_number_verified", "email", "email_verified",
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// SetClients replaces the clients in force (start-up, SIGHUP). The new set
// is complete before it is published: a request during a reload sees the
// old clients or the new ones, never one half made.
func (p *Provider) SetClients(cs []ClientConfig) {
	p.clients.set(cs, p.loginURL)
}

func (p *Provider) loginURL(id string) string { return PathLogin + "?id=" + url.QueryEscape(id) }

// Route is a method and path the Provider answers.
type Route struct{ Method, Path string }

// Routes are the requests the Provider answers. OPTIONS is the CORS
// preflight of the endpoints browsers' single-page clients call.
func (p *Provider) Routes() []Route {
	var out []Route
	add := func(path string, methods ...string) {
		for _, m := range methods {
			out = append(out, Route{m, path})
		}
	}
	add(PathDiscovery, http.MethodGet, http.MethodOptions)
	add(PathAuthorize, http.MethodGet, http.MethodPost)
	add(PathCallback, http.MethodGet)
	add(PathToken, http.MethodPost, http.MethodOptions)
	add(PathUserinfo, http.MethodGet, http.MethodPost, http.MethodOptions)
	add(PathRevoke, http.MethodPost, http.MethodOptions)
	add(PathIntrospect, http.MethodPost)
	add(PathEndSession, http.MethodGet, http.MethodPost)
	add(PathLogin, http.MethodGet)
	add(PathLoginInfo, http.MethodGet)
	add(PathLoggedOut, http.MethodGet)
	if p.devRP != nil {
		add(PathDevRP, http.MethodGet)
		add(PathDevRP+"callback", http.MethodGet)
	}
	return out
}

// RSAJWKs are the RSA public keys, for /.well-known/jwks.json.
func (p *Provider) RSAJWKs() []jose.JSONWebKey { return p.keys.rsaJWKs() }

// Close stops back-channel deliveries still retrying.
func (p *Provider) Close() { p.bcl.close() }

type ipKey struct{}

// WithClientIP tells the Provider the client IP the HTTP layer worked out
// (trusted proxies applied).
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(ipKey{}).(string); ok {
		return ip
	}
	return r.RemoteAddr
}

// ServeHTTP dispatches to the library's endpoints and to ours.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case PathLogin:
		p.login(w, r)
	case PathLoginInfo:
		p.loginInfo(w, r)
	case PathLoggedOut:
		p.loggedOut(w, r)
	case PathAuthorize:
		binding := newID()
		ctx := context.WithValue(r.Context(), ctxBrowser, &browserInfo{IP: clientIP(r), UserAgent: r.UserAgent(), Binding: binding})
		pw := newPageWriter(w, r, p)
		// The binding's cookie goes only with a request that goes on to
		// the login step: one answered at once (an error, a redirect to
		// the client) needs none.
		pw.onAnswer = func(int) {
			if strings.HasPrefix(w.Header().Get("Location"), p.loginURL("")) {
				p.bindBrowser(w, binding)
			}
		}
		p.op.ServeHTTP(pw, r.WithContext(ctx))
		pw.finish()
	case PathCallback:
		a, ok := p.callbackAllowed(w, r)
		if !ok {
			return
		}
		pw := newPageWriter(w, r, p)
		// The code goes back to the client (a redirect, or form_post's
		// page): the binding is spent. A browser keeps few cookies a site
		// (about 180), and each request made one.
		pw.onAnswer = func(int) { p.unbindBrowser(w, a.Browser) }
		p.op.ServeHTTP(pw, r)
		pw.finish()
	case PathEndSession:
		p.endSession(w, r)
	case PathToken:
		p.rewrite(w, r.WithContext(context.WithValue(r.Context(), ctxClientID, tokenClientID(r))))
	case PathRevoke, PathIntrospect:
		p.rewrite(w, r)
	case PathDevRP, PathDevRP + "callback":
		if p.devRP == nil {
			http.NotFound(w, r)
			return
		}
		p.devRP.ServeHTTP(w, r)
	case PathUserinfo:
		p.rewrite(w, r)
	case PathDiscovery:
		w.Header().Set("Cache-Control", "public, max-age=300")
		p.discovery.ServeHTTP(w, r)
	default:
		p.op.ServeHTTP(w, r)
	}
}

// rewrite runs a library endpoint and fixes two of its answers: a store
// that is down (its server_error) becomes 503 with Retry-After, as
// everywhere in scanlogin (README.md); and at UserInfo a token that is
// unknown, expired, revoked or whose session ended is 401 invalid_token
// (RFC 6750 §3.1; the library says 403).
func (p *Provider) rewrite(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}}
	o := &outage{}
	p.op.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ctxOutage, o)))
	h := w.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &e)
		switch {
		case e.Error == string(oidc.ServerError) || o.hit.Load():
			h.Set("Retry-After", "2")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "try again shortly"})
			return
		case r.URL.Path == PathUserinfo && (status == http.StatusUnauthorized || status == http.StatusForbidden):
			h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "the access token is invalid, expired or revoked"})
			return
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(rec.body.Bytes())
}

// recorder holds an answer of the library for rewriting.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// tokenClientID is the client of a token request (Basic or form), so that
// the storage signs its ID token with the algorithm it registered. The
// library authenticates the client itself.
func tokenClientID(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
	}
	if err := r.ParseForm(); err == nil {
		return r.PostForm.Get("client_id")
	}
	return ""
}

// browserSession is the browser's live scanlogin session: from the
// session cookie (just set by a redeem) first, else the SSO cookie.
func (p *Provider) browserSessions(r *http.Request) []*scanlogin.Session {
	var out []*scanlogin.Session
	seen := map[string]bool{}
	add := func(sid string) {
		if sid == "" || seen[sid] {
			return
		}
		seen[sid] = true
		s, err := p.opts.Engine.SessionAlive(r.Context(), sid)
		if err == nil {
			out = append(out, s)
		}
	}
	if sid, ok := p.opts.SessionFromCookie(r); ok {
		add(sid)
	}
	if ck, err := r.Cookie(SSOCookie); err == nil {
		if sid, ok := p.openSSO(ck.Value); ok {
			add(sid)
		}
	}
	return out
}

func (p *Provider) sealSSO(sid string) string {
	m := hmac.New(sha256.New, p.ssoKey)
	m.Write([]byte(sid))
	return sid + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (p *Provider) openSSO(v string) (string, bool) {
	sid, _, ok := strings.Cut(v, ".")
	if !ok || !validID(sid) {
		return "", false
	}
	return sid, hmac.Equal([]byte(p.sealSSO(sid)), []byte(v))
}

func (p *Provider) setSSO(w http.ResponseWriter, s *scanlogin.Session) {
	ttl := s.ExpiresAt.Sub(p.now())
	http.SetCookie(w, &http.Cookie{
		Name: SSOCookie, Value: p.sealSSO(s.ID), Path: "/oidc/", HttpOnly: true, Secure: p.opts.SecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ttl / time.Second), Expires: s.ExpiresAt,
	})
}

func (p *Provider) clearSSO(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SSOCookie, Value: "", Path: "/oidc/", HttpOnly: true,
		Secure: p.opts.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// fresh: the session satisfies the request's max_age (prompt=login is
// max_age=0): signed in recently enough, or during this very request.
func (p *Provider) fresh(a *authRequest, s *scanlogin.Session) bool {
	if a.MaxAge == nil {
		return true
	}
	if !s.CreatedAt.Before(a.CreatedAt.Truncate(time.Millisecond)) {
		return true
	}
	return p.now().Sub(s.CreatedAt) <= time.Duration(*a.MaxAge)*time.Second
}

// login is the authorization endpoint's login step: a browser with a live
// session that satisfies the request goes straight back to the client
// (single sign-on); prompt=none without one gets login_required; anyone
// else gets the scan page, which returns here after its redeem.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	a, err := p.st.authRequest(r.Context(), id)
	if err != nil {
		if isServerError(err) {
			w.Header().Set("Retry-After", "2")
			p.unavailablePage(w, r)
			return
		}
		p.errorPage(w, r, http.StatusBadRequest, msgUnknownRequest)
		return
	}
	if !p.sameBrowser(r, a) {
		p.errorPage(w, withLocales(r, a), http.StatusBadRequest, notOursMsg(a))
		return
	}
	if a.IsDone {
		http.Redirect(w, r, p.callback(r.Context(), a.ID), http.StatusFound)
		return
	}
	for _, s := range p.browserSessions(r) {
		if !p.fresh(a, s) {
			continue
		}
		// prompt=none with an id_token_hint asks after that user only:
		// another user's session gives login_required (OIDC Core 3.1.2.1).
		if a.hasPrompt(oidc.PromptNone) && a.HintSubject != "" && s.UserID != a.HintSubject {
			continue
		}
		if err := p.st.completeAuthRequest(r.Context(), a, s); err != nil {
			p.unbindBrowser(w, a.Browser) // answered: the binding is spent
			op.AuthRequestError(w, r, a, err, p.op)
			return
		}
		p.setSSO(w, s)
		http.Redirect(w, r, p.callback(r.Context(), a.ID), http.StatusFound)
		return
	}
	if a.hasPrompt(oidc.PromptNone) {
		p.unbindBrowser(w, a.Browser) // answered: the binding is spent
		op.AuthRequestError(w, r, a, oidc.ErrLoginRequired(), p.op)
		return
	}
	q := url.Values{"oidc": {a.ID}}
	if l := r.URL.Query().Get("lang"); l == "zh" || l == "en" {
		q.Set("lang", l)
	} else if a.UILocales != "" {
		// The scan page picks its language from ui_locales as from
		// ?lang= (README.md, "Phones, QR modes and languages").
		q.Set("ui_locales", a.UILocales)
	}
	http.Redirect(w, r, p.opts.LoginPage+"?"+q.Encode(), http.StatusFound)
}

// loginInfo tells the scan page which application the user signs in to.
func (p *Provider) loginInfo(w http.ResponseWriter, r *http.Request) {
	a, err := p.st.authRequest(r.Context(), r.URL.Query().Get("id"))
	if err != nil || !p.sameBrowser(r, a) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "not_found", "message": "unknown or expired authorization request"}})
		return
	}
	name := a.ClientID
	if c, ok := p.clients.get(a.ClientID); ok {
		name = c.cfg.Name
	}
	writeJSON(w, http.StatusOK, map[string]any{"client_id": a.ClientID, "client_name": name, "continue": p.loginURL(a.ID)})
}

type ctxSessionKey struct{}

// ctxEndSession carries the session RP-initiated logout ends (endSession
// decides it) into TerminateSessionFromRequest; "" ends none.
var ctxEndSession = ctxSessionKey{}

// endSession is RP-initiated logout. The library validates id_token_hint,
// client_id and post_logout_redirect_uri; the storage ends the session
// (telling every client); the browser's cookies go when its own session
// ended. A hint that names this browser's session ends it at once. Anything
// else that would end a session (no hint, or a hint of another session:
// RP-Initiated Logout 1.0 section 2, "the OP MUST ask the End-User") asks
// first, with a form only the question's own page can submit
// (logoutConfirmed): confirmed, it ends this browser's session, or, when
// the browser has none, the hint's (which whoever holds the client's ID
// token could end anyway).
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	own := p.browserSessions(r)
	hinted, hintOK := p.hintSession(r)
	if hinted != "" && len(own) == 0 {
		// The hint's session already ended (signed out on the site or
		// from the phone): nothing to ask about.
		if _, err := p.opts.Engine.SessionAlive(r.Context(), hinted); errors.Is(err, scanlogin.ErrSessionNotFound) {
			hinted = ""
		}
	}
	end := ""
	switch {
	case !hintOK:
		// A hint that is not ours: the library refuses the request.
	case hinted != "" && hasSession(own, hinted):
		end = hinted
	case r.Method == http.MethodPost && p.logoutConfirmed(r):
		end = hinted
		if len(own) > 0 {
			end = own[0].ID
		}
	case hinted == "" && len(own) == 0:
		// Nothing to end: the library checks the rest and redirects.
	default:
		p.confirmLogout(w, r)
		return
	}
	pw := newPageWriter(w, r, p)
	pw.onAnswer = func(status int) {
		if status < 300 || status >= 400 || !hasSession(own, end) {
			return // another browser's session: this one's cookies stay
		}
		p.clearSSO(w)
		if p.opts.SessionCookieName != "" {
			http.SetCookie(w, &http.Cookie{Name: p.opts.SessionCookieName, Value: "", Path: "/", HttpOnly: true,
				Secure: p.opts.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
		}
	}
	p.op.ServeHTTP(pw, r.WithContext(context.WithValue(r.Context(), ctxEndSession, end)))
	pw.finish()
}

func hasSession(ss []*scanlogin.Session, id string) bool {
	return id != "" && slices.ContainsFunc(ss, func(s *scanlogin.Session) bool { return s.ID == id })
}

// hintSession checks the logout request as the library will, and names
// the session of its id_token_hint ("" for none); ok is false when the
// library will refuse the request (a hint that is not ours, a client or
// post_logout_redirect_uri that does not match), which it then does
// without asking anyone.
func (p *Provider) hintSession(r *http.Request) (sid string, ok bool) {
	ctx := op.ContextWithIssuer(r.Context(), p.opts.Issuer)
	req, err := op.ParseEndSessionRequest(r, p.op.Decoder())
	if err != nil {
		return "", false
	}
	v, err := op.ValidateEndSessionRequest(ctx, req, p.op)
	if err != nil {
		return "", false
	}
	if c := v.IDTokenHintClaims; c != nil {
		sid, _ = c.Claims["sid"].(string)
		if sid == "" {
			sid = c.SessionID
		}
	}
	return sid, true
}

// logoutCookie holds the nonce of a sign-out question (confirmLogout):
// Strict, so only a request from the question's own page carries it.
const logoutCookie = "scanlogin_op_logout"

// logoutConfirmation is the confirm value of a sign-out question: a MAC of
// its nonce and the hint. Another site can neither read it nor make the
// browser send the nonce.
func (p *Provider) logoutConfirmation(nonce, hint string) string {
	m := hmac.New(sha256.New, p.ssoKey)
	m.Write([]byte("logout|" + nonce + "|" + hint))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// logoutConfirmed: r is the user's answer to this browser's sign-out
// question.
func (p *Provider) logoutConfirmed(r *http.Request) bool {
	c, err := r.Cookie(logoutCookie)
	got := r.Form.Get("confirm")
	return err == nil && validID(c.Value) && got != "" &&
		hmac.Equal([]byte(got), []byte(p.logoutConfirmation(c.Value, r.Form.Get("id_token_hint"))))
}

// confirmLogout asks before signing out: a form that posts the request
// again with the confirmation.
func (p *Provider) confirmLogout(w http.ResponseWriter, r *http.Request) {
	// One nonce for the browser's open questions (two tabs, or a question
	// asked again): a new one would void the other pages' answers.
	nonce := newID()
	if c, err := r.Cookie(logoutCookie); err == nil && validID(c.Value) {
		nonce = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: logoutCookie, Value: nonce, Path: PathEndSession, HttpOnly: true,
		Secure: p.opts.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: int(authRequestTTL / time.Second)})
	f := &confirmForm{Action: PathEndSession, Confirm: "Sign out", Cancel: "Cancel", Token: p.logoutConfirmation(nonce, r.Form.Get("id_token_hint"))}
	title := "Sign out?"
	if isZh(r) {
		title, f.Confirm, f.Cancel = "退出登录？", "退出登录", "取消"
	}
	for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"} {
		if v := r.Form.Get(k); v != "" {
			f.Fields = append(f.Fields, [2]string{k, v})
		}
	}
	p.renderForm(w, r, title, msgConfirmLogout, f)
}

// fillUserinfo sets the claims of scopes for the user (docs/OIDC.md#claims).
func (p *Provider) fillUserinfo(ctx context.Context, ui *oidc.UserInfo, userID, clientID string, scopes []string) error {
	u, err := p.opts.Engine.User(ctx, userID)
	if errors.Is(err, scanlogin.ErrUserNotFound) {
		return oidc.ErrAccessDenied().WithDescription("the user no longer exists")
	}
	if err != nil {
		return p.st.storeErr(ctx, "user", err)
	}
	ui.Subject = u.ID
	c, _ := p.clients.get(clientID)
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			ui.Name = u.Nickname
			ui.Nickname = u.Nickname
			ui.Picture = p.absolute(u.AvatarURL)
		case oidc.ScopePhone:
			if u.Phone != "" {
				ui.PhoneNumber = u.Phone
				ui.PhoneNumberVerified = true
			}
		case oidc.ScopeEmail:
			if c != nil && c.cfg.EmailDomain != "" {
				ui.Email = u.ID + "@" + c.cfg.EmailDomain
				// WeChat users have no e-mail; this one is made up, and
				// a false email_verified says so (the library would
				// leave a false out).
				ui.AppendClaims("email_verified", false)
			}
		}
	}
	return nil
}

// absolute makes our own relative avatar URLs absolute.
func (p *Provider) absolute(u string) string {
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		return p.opts.Issuer + u
	}
	return u
}

// signedIn records a sign-in: an audit line, and the durable sign-in
// history (the engine writes it in the background).
func (p *Provider) signedIn(a *authRequest) {
	p.log.Info("audit", "action", "oidc_sign_in", "client_id", a.ClientID, "user_id", a.UserID, "session_id", a.SessionID, "ip", a.IP, "outcome", "ok")
	p.opts.Engine.RecordSignIn(scanlogin.SignIn{UserID: a.UserID, Kind: scanlogin.SignInOIDC, Client: a.ClientID,
		SessionID: a.SessionID, IP: a.IP, UserAgent: a.UserAgent})
}

// Client returns the configuration of a client in force.
func (p *Provider) Client(id string) (ClientConfig, bool) {
	c, ok := p.clients.get(id)
	if !ok {
		return ClientConfig{}, false
	}
	return c.cfg, true
}

// isServerError: a store failure (storage.storeErr), not the client's.
func isServerError(err error) bool {
	var e *oidc.Error
	return errors.As(err, &e) && e.ErrorType == oidc.ServerError
}

// discover serves the Discovery 1.0 document with only what this provider
// does. The library's own lists the implicit and hybrid response types, the
// implicit and JWT bearer grants and a device authorization endpoint, none
// of which work here, and a client may pick any advertised one.
func (p *Provider) discover(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	cfg := op.CreateDiscoveryConfig(op.ContextWithIssuer(r.Context(), p.opts.Issuer), p.op, p.st)
	cfg.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	cfg.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	cfg.DeviceAuthorizationEndpoint = ""
	op.Discover(w, cfg)
}

// bindBrowser sets the cookie that binds a request to this browser: its
// own (browserCookie), holding the random binding whose hash the request
// keeps, so that requests a browser makes at once, in two tabs, or by a
// form POST that carries no cookies, never overwrite each other's.
func (p *Provider) bindBrowser(w http.ResponseWriter, binding string) {
	// Lax: the client sends the browser here by a top-level navigation,
	// and the scan page and the login step are ours.
	http.SetCookie(w, &http.Cookie{Name: browserCookie(hashHex(binding)), Value: binding, Path: "/oidc/", HttpOnly: true,
		Secure: p.opts.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(authRequestTTL / time.Second)})
}

// unbindBrowser removes the cookie of the request whose binding hashes
// to h.
func (p *Provider) unbindBrowser(w http.ResponseWriter, h string) {
	if len(h) < 16 {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: browserCookie(h), Value: "", Path: "/oidc/", HttpOnly: true,
		Secure: p.opts.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// browserCookie names the cookie of the request whose binding hashes to h.
func browserCookie(h string) string { return BrowserCookie + "_" + h[:16] }

// sameBrowser tells whether r comes from the browser that made a.
func (p *Provider) sameBrowser(r *http.Request, a *authRequest) bool {
	if len(a.Browser) < 16 {
		return false
	}
	c, err := r.Cookie(browserCookie(a.Browser))
	return err == nil && subtle.ConstantTimeCompare([]byte(hashHex(c.Value)), []byte(a.Browser)) == 1
}

// withLocales gives r the ui_locales of its authorization request when r
// carries none: the pages of the later steps (the login step, the
// callback) speak the language the client asked for, as the scan page does.
func withLocales(r *http.Request, a *authRequest) *http.Request {
	if a.UILocales == "" || r.URL.Query().Get("ui_locales") != "" {
		return r
	}
	r = r.Clone(r.Context())
	q := r.URL.Query()
	q.Set("ui_locales", a.UILocales)
	r.URL.RawQuery = q.Encode()
	return r
}

// notOursMsg is what a browser without a request's cookie reads: the
// request is done (its cookie went with the code: a second tab, a replayed
// callback), or another browser started it.
func notOursMsg(a *authRequest) msg {
	if a.IsDone {
		return msgDone
	}
	return msgOtherBrowser
}

// callbackAllowed lets the library's callback give a request's code only
// to the browser that made the request; anything else gets an error page.
func (p *Provider) callbackAllowed(w http.ResponseWriter, r *http.Request) (*authRequest, bool) {
	a, err := p.st.authRequest(r.Context(), r.URL.Query().Get("id"))
	switch {
	case err != nil && isServerError(err):
		w.Header().Set("Retry-After", "2")
		p.unavailablePage(w, r)
		return nil, false
	case err != nil:
		p.errorPage(w, r, http.StatusBadRequest, msgUnknownRequest)
		return nil, false
	case !p.sameBrowser(r, a):
		p.errorPage(w, withLocales(r, a), http.StatusBadRequest, notOursMsg(a))
		return nil, false
	}
	return a, true
}
