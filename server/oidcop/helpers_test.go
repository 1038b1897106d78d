package oidcop_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/oidcop"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// The tests drive the provider as relying parties nobody here wrote do:
// golang.org/x/oauth2 for the protocol, github.com/coreos/go-oidc/v3 for
// discovery and ID token verification. The browser is an HTTP client with a
// cookie jar that stops at every redirect; the phone is played over the
// mini-program API, as the mini-program would.

// allLogs collects every log line of every instance of the run, and of the
// library (slog's default logger), for TestNoSecretsInLogs.
var allLogs servertest.LogBuffer

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(&allLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	os.Exit(m.Run())
}

const (
	rpBase   = "http://127.0.0.1:9/rp"
	secretA  = "a-confidential-client-secret-of-40-chars"
	secretEd = "another-client-secret-for-eddsa-0000000"
)

// testClients registers the clients of the tests; bcl is the back-channel
// logout receiver, if any.
func testClients(bcl string) []oidcop.ClientConfig {
	return []oidcop.ClientConfig{
		{ID: "app", Secret: secretA, RedirectURIs: []string{rpBase + "/callback"},
			PostLogoutRedirectURIs: []string{rpBase + "/bye"}, BackchannelLogoutURI: bcl, EmailDomain: "wx.example.com"},
		{ID: "ed", Secret: secretEd, RedirectURIs: []string{rpBase + "/ed"}, IDTokenAlg: oidcop.AlgEdDSA, BackchannelLogoutURI: bcl,
			PostLogoutRedirectURIs: []string{rpBase + "/ed-bye"}},
		{ID: "spa", Public: true, RedirectURIs: []string{rpBase + "/spa"}},
	}
}

// clock is an adjustable clock for the servers.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

type env struct {
	t     *testing.T
	inst  *servertest.Instance
	clock *clock
}

// start starts a dev-mode instance with the test clients. redisURL, when
// not empty, shares another instance's Redis (and databaseURL its
// database).
func start(t *testing.T, bcl, redisURL string, databaseURL ...string) *env {
	t.Helper()
	db := ""
	if len(databaseURL) > 0 {
		db = databaseURL[0]
	}
	ck := &clock{}
	logger := slog.New(slog.NewJSONHandler(&allLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	inst := servertest.Start(t, servertest.Options{
		RedisURL:    redisURL,
		DatabaseURL: db,
		Logger:      logger,
		Now:         ck.now,
		Config:      &app.Config{OIDCClients: testClients(bcl)},
	})
	return &env{t: t, inst: inst, clock: ck}
}

// issuer is the provider's issuer (dev instances on one Redis share the
// first one's).
func (e *env) issuer() string { return e.inst.App.Config.Issuer }

// rp is a relying party: an oauth2 config and a go-oidc verifier.
type rp struct {
	cfg      oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	ctx      context.Context
}

func (e *env) rp(clientID, secret, redirect string, algs ...string) *rp {
	e.t.Helper()
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	prov, err := oidc.NewProvider(ctx, e.issuer())
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	return &rp{
		cfg: oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: prov.Endpoint(), RedirectURL: redirect,
			Scopes: []string{oidc.ScopeOpenID, "profile", "phone", "email"}},
		provider: prov,
		verifier: prov.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: algs}),
		ctx:      ctx,
	}
}

// browser is a browser: cookies, and redirects one at a time.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// confirmLogout submits the provider's "sign out?" page (resp) as the
// user's tap on its button does.
func (b *browser) confirmLogout(resp *http.Response) *http.Response {
	b.t.Helper()
	body := bodyOf(resp)
	form := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || form == nil {
		b.t.Fatalf("no sign-out question: %d %s", resp.StatusCode, body)
	}
	v := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	u, _ := resp.Request.URL.Parse(html.UnescapeString(form[1]))
	out, err := b.c.PostForm(u.String(), v)
	if err != nil {
		b.t.Fatal(err)
	}
	rb, _ := io.ReadAll(out.Body)
	out.Body.Close()
	out.Body = io.NopCloser(bytes.NewReader(rb))
	return out
}

func (b *browser) get(u string) *http.Response {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}

// phone is a WeChat user on the mini-program.
type phone struct {
	token, userID, openID string
}

var openIDs atomic.Int64

func (e *env) newPhone(nickname string) *phone {
	e.t.Helper()
	openID := fmt.Sprintf("oOIDC%023d", openIDs.Add(1))
	code := e.inst.MintCode(e.t, openID, nickname)
	var out struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	e.api("POST", "/api/v1/mp/login", "", map[string]string{"code": code}, 200, &out)
	if nickname != "" {
		e.api("PATCH", "/api/v1/mp/me", out.Token, map[string]string{"nickname": nickname}, 200, nil)
	}
	return &phone{token: out.Token, userID: out.User.ID, openID: openID}
}

func (e *env) api(method, path, bearer string, body any, want int, out any) {
	e.t.Helper()
	e.apiVia(http.DefaultClient, method, path, bearer, body, want, out)
}

func (e *env) apiVia(c *http.Client, method, path, bearer string, body any, want int, out any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.inst.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// linkPhone binds a phone number to the user, as the getPhoneNumber
// button does.
func (e *env) linkPhone(p *phone, number string) {
	e.t.Helper()
	code, err := e.inst.Fake.MintPhoneCode(context.Background(), p.openID, number)
	if err != nil {
		e.t.Fatal(err)
	}
	e.api("POST", "/api/v1/mp/me/phone", p.token, map[string]string{"code": code}, 200, nil)
}

// scan plays the login page and the phone: a scene is created in the
// browser, scanned and confirmed on the phone, redeemed by the browser
// (which gets the session cookie).
func (e *env) scan(b *browser, p *phone) {
	e.t.Helper()
	var sc struct {
		Scene     string `json:"scene"`
		PollToken string `json:"poll_token"`
	}
	e.apiVia(b.c, "POST", "/api/v1/qr", "", nil, 201, &sc)
	e.api("POST", "/api/v1/qr/"+sc.Scene+"/scan", p.token, nil, 200, nil)
	e.api("POST", "/api/v1/qr/"+sc.Scene+"/confirm", p.token, nil, 200, nil)
	e.apiVia(b.c, "POST", "/api/v1/qr/"+sc.Scene+"/redeem", sc.PollToken, nil, 200, nil)
}

// authorize runs an authorization request in the browser until it leaves
// the provider, scanning with p (nil: the test expects no scan) when the
// provider shows the scan page. It returns where the browser is sent.
func (e *env) authorize(b *browser, authURL string, p *phone) (*url.URL, bool) {
	e.t.Helper()
	scanned := false
	next := authURL
	for range 10 {
		resp := b.get(next)
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			e.t.Fatalf("GET %s: %d %s", next, resp.StatusCode, bodyOf(resp))
		}
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			e.t.Fatalf("Location: %v", err)
		}
		if loc.Host != resp.Request.URL.Host {
			return loc, scanned
		}
		if loc.Path == "/" && loc.Query().Get("oidc") != "" {
			// The scan page: what index.js does after the redeem.
			if p == nil {
				e.t.Fatalf("the provider asked for a scan: %s", loc)
			}
			e.scan(b, p)
			scanned = true
			next = loc.Scheme + "://" + loc.Host + "/oidc/login?id=" + url.QueryEscape(loc.Query().Get("oidc"))
			continue
		}
		next = loc.String()
	}
	e.t.Fatalf("too many redirects")
	return nil, false
}

// pkce is a verifier and its options.
type pkce struct{ verifier string }

func newPKCE() pkce { return pkce{oauth2.GenerateVerifier()} }

func randState() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// login is a whole code flow for r: it returns the tokens and the
// verified ID token.
type loginResult struct {
	tok     *oauth2.Token
	raw     string
	idt     *oidc.IDToken
	claims  map[string]any
	nonce   string
	scanned bool
}

func (e *env) login(b *browser, r *rp, p *phone, extra ...oauth2.AuthCodeOption) *loginResult {
	e.t.Helper()
	state, nonce, pk := randState(), randState(), newPKCE()
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(pk.verifier)}, extra...)
	loc, scanned := e.authorize(b, r.cfg.AuthCodeURL(state, opts...), p)
	q := loc.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		e.t.Fatalf("back at the client: %s", loc)
	}
	tok, err := r.cfg.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(pk.verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		e.t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce {
		e.t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	return &loginResult{tok: tok, raw: raw, idt: idt, claims: claims, nonce: nonce, scanned: scanned}
}

// userinfo calls the UserInfo endpoint with an access token.
func (e *env) userinfo(method, accessToken string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.inst.URL+oidcop.PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return e.doJSON(req)
}

// doJSON sends req and decodes the JSON answer, if any.
func (e *env) doJSON(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// postForm posts a form to the provider and decodes the JSON answer.
func (e *env) postForm(path string, form url.Values, basicID, basicSecret string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.inst.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return e.doJSON(req)
}

// receiver is a client's back-channel logout endpoint.
type receiver struct {
	mu     sync.Mutex
	tokens []string
	got    chan string
	fail   atomic.Int32 // answer 503 this many times first
}

func newReceiver() *receiver { return &receiver{got: make(chan string, 16)} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.fail.Add(-1) >= 0 {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	_ = r.ParseForm()
	tok := r.PostForm.Get("logout_token")
	rc.mu.Lock()
	rc.tokens = append(rc.tokens, tok)
	rc.mu.Unlock()
	rc.got <- tok
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) wait(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case tok := <-rc.got:
		return tok
	case <-time.After(d):
		t.Fatalf("no back-channel logout within %s", d)
		return ""
	}
}

var _ = server.SessionCookie
