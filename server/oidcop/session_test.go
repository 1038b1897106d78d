package oidcop_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/scanlogin/scanlogin/server/oidcop"
)

// refresh spends a refresh token through x/oauth2, as a client does.
func (r *rp) refresh(rt string) (*oauth2.Token, error) {
	return r.cfg.TokenSource(r.ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
}

// startWithReceiver starts an instance whose app and ed clients have a
// back-channel logout endpoint.
func startWithReceiver(t *testing.T) (*env, *receiver) {
	rc := newReceiver()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return start(t, srv.URL+"/backchannel", ""), rc
}

// logoutClaims verifies a logout token's signature against the provider's
// JWKS and checks the claims Back-Channel Logout 1.0 requires.
func (e *env) logoutClaims(tok, aud string) map[string]any {
	e.t.Helper()
	ks := oidc.NewRemoteKeySet(context.Background(), e.issuer()+"/.well-known/jwks.json")
	payload, err := ks.VerifySignature(context.Background(), tok)
	if err != nil {
		e.t.Fatalf("logout token signature: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		e.t.Fatal(err)
	}
	ev, _ := c["events"].(map[string]any)
	if _, ok := ev["http://schemas.openid.net/event/backchannel-logout"]; !ok || len(ev) != 1 {
		e.t.Fatalf("events %v", c["events"])
	}
	if c["iss"] != e.issuer() || c["aud"] != aud || c["jti"] == nil || c["iat"] == nil {
		e.t.Fatalf("logout token claims %v", c)
	}
	if _, ok := c["nonce"]; ok {
		e.t.Fatal("a logout token must not carry a nonce")
	}
	return c
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e, rc := startWithReceiver(t)
	r := e.rp("app", secretA, rpBase+"/callback")
	r.cfg.Scopes = append(r.cfg.Scopes, oidc.ScopeOfflineAccess)
	b := newBrowser(t)
	res := e.login(b, r, e.newPhone("refresh"))
	rt1 := res.tok.RefreshToken
	if rt1 == "" {
		t.Fatal("no refresh token with offline_access")
	}
	tok2, err := r.refresh(rt1)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == rt1 {
		t.Fatal("the refresh token did not rotate")
	}
	idt2, err := r.verifier.Verify(r.ctx, tok2.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	var c2 map[string]any
	_ = idt2.Claims(&c2)
	if c2["sid"] != res.claims["sid"] || c2["sub"] != res.claims["sub"] || c2["auth_time"] != res.claims["auth_time"] {
		t.Fatalf("refreshed claims %v, first %v", c2, res.claims)
	}
	if st, _ := e.userinfo("GET", tok2.AccessToken); st != 200 {
		t.Fatalf("userinfo with the refreshed access token: %d", st)
	}

	// The spent token again, past any grace period of the engine's
	// refresh: the session ends, for every client, and they are told.
	e.clock.advance(2 * time.Minute)
	if _, err := r.refresh(rt1); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("reused refresh token: %v, want invalid_grant", err)
	}
	lt := rc.wait(t, 10*time.Second)
	if c := e.logoutClaims(lt, "app"); c["sid"] != res.claims["sid"] {
		t.Fatalf("logout token sid %v, want %v", c["sid"], res.claims["sid"])
	}
	if _, err := r.refresh(tok2.RefreshToken); err == nil {
		t.Fatal("the rotated refresh token still works after reuse")
	}
	if st, _ := e.userinfo("GET", tok2.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo after reuse: %d, want 401", st)
	}
	// The browser's session is gone too: it must scan again.
	if again := e.login(b, r, e.newPhone("again")); !again.scanned {
		t.Fatal("single sign-on survived a reused refresh token")
	}
}

func TestSingleSignOn(t *testing.T) {
	e := start(t, "", "")
	app := e.rp("app", secretA, rpBase+"/callback")
	ed := e.rp("ed", secretEd, rpBase+"/ed", oidc.EdDSA)
	b := newBrowser(t)
	p := e.newPhone("sso")
	first := e.login(b, app, p)

	// Another application: no scan, the same browser session.
	second := e.login(b, ed, nil)
	if second.scanned || second.claims["sid"] != first.claims["sid"] || second.claims["sub"] != p.userID {
		t.Fatalf("SSO: scanned %v, sid %v vs %v", second.scanned, second.claims["sid"], first.claims["sid"])
	}
	// prompt=none with a session: a code at once.
	if r := e.login(b, app, nil, oauth2.SetAuthURLParam("prompt", "none")); r.scanned {
		t.Fatal("prompt=none scanned")
	}
	// prompt=none with an id_token_hint: that user's session only. Another
	// user's ID token as the hint is login_required, not a code for this one.
	if r := e.login(b, app, nil, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", first.raw)); r.scanned {
		t.Fatal("prompt=none with the session's own hint scanned")
	}
	other := e.login(newBrowser(t), app, e.newPhone("someone else"))
	hinted := randState()
	loc, _ := e.authorize(b, app.cfg.AuthCodeURL(hinted, oauth2.SetAuthURLParam("prompt", "none"),
		oauth2.SetAuthURLParam("id_token_hint", other.raw), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != hinted {
		t.Fatalf("prompt=none with another user's hint: %s", loc)
	}
	// prompt=none without one: login_required, back at the client.
	state := randState()
	loc, _ = e.authorize(newBrowser(t), app.cfg.AuthCodeURL(state, oauth2.SetAuthURLParam("prompt", "none"),
		oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
	if loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != state || loc.Query().Get("code") != "" {
		t.Fatalf("prompt=none without a session: %s", loc)
	}
	// max_age within the session's age: no scan; past it: scan.
	if r := e.login(b, app, nil, oauth2.SetAuthURLParam("max_age", "600")); r.scanned {
		t.Fatal("max_age=600 scanned a minute-old session")
	}
	e.clock.advance(2 * time.Minute)
	aged := e.login(b, app, p, oauth2.SetAuthURLParam("max_age", "60"))
	if !aged.scanned || aged.claims["auth_time"].(float64) <= first.claims["auth_time"].(float64) {
		t.Fatalf("max_age=60 on a 2-minute-old session: scanned %v, auth_time %v", aged.scanned, aged.claims["auth_time"])
	}
	// prompt=login: always a scan, a new auth_time.
	fresh := e.login(b, app, p, oauth2.SetAuthURLParam("prompt", "login"))
	if !fresh.scanned {
		t.Fatal("prompt=login signed in without a scan")
	}
}

func TestRPInitiatedLogoutAndBackchannel(t *testing.T) {
	e, rc := startWithReceiver(t)
	app := e.rp("app", secretA, rpBase+"/callback")
	ed := e.rp("ed", secretEd, rpBase+"/ed", oidc.EdDSA)
	b := newBrowser(t)
	first := e.login(b, app, e.newPhone("bye"))
	e.login(b, ed, nil)

	q := url.Values{"id_token_hint": {first.raw}, "post_logout_redirect_uri": {rpBase + "/bye"}, "state": {"s1"}}
	resp := b.get(e.issuer() + oidcop.PathEndSession + "?" + q.Encode())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != rpBase+"/bye?state=s1" {
		t.Fatalf("end session: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), bodyOf(resp))
	}
	// Both clients are told, each with its own algorithm's signature.
	got := map[string]bool{}
	for range 2 {
		tok := rc.wait(t, 10*time.Second)
		aud := "app"
		if hdr := decodeSeg(t, strings.SplitN(tok, ".", 2)[0]); strings.Contains(hdr, "EdDSA") {
			aud = "ed"
		} else if !strings.Contains(hdr, "RS256") || !strings.Contains(hdr, `"typ":"logout+jwt"`) {
			t.Fatalf("logout token header %s", hdr)
		}
		if c := e.logoutClaims(tok, aud); c["sid"] != first.claims["sid"] || c["sub"] != first.claims["sub"] {
			t.Fatalf("logout token for %s: %v", aud, c)
		}
		got[aud] = true
	}
	if !got["app"] || !got["ed"] {
		t.Fatalf("logout tokens for %v", got)
	}
	if st, _ := e.userinfo("GET", first.tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo after logout: %d", st)
	}
	// The browser's cookies went with the session.
	me, _ := b.c.Get(e.inst.URL + "/api/v1/me")
	if me.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/v1/me after logout: %d", me.StatusCode)
	}
	if r := e.login(b, app, e.newPhone("back")); !r.scanned {
		t.Fatal("signed in again without a scan after logout")
	}
}

// TestEdDSAHintLogout: an EdDSA client's own ID token is a good
// id_token_hint, as an RS256 client's is.
func TestEdDSAHintLogout(t *testing.T) {
	e := start(t, "", "")
	ed := e.rp("ed", secretEd, rpBase+"/ed", oidc.EdDSA)
	b := newBrowser(t)
	res := e.login(b, ed, e.newPhone("ed-bye"))
	q := url.Values{"id_token_hint": {res.raw}, "post_logout_redirect_uri": {rpBase + "/ed-bye"}, "state": {"s2"}}
	resp := b.get(e.issuer() + oidcop.PathEndSession + "?" + q.Encode())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != rpBase+"/ed-bye?state=s2" {
		t.Fatalf("end session with an EdDSA hint: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), bodyOf(resp))
	}
	if st, _ := e.userinfo("GET", res.tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo after logout: %d", st)
	}
}

func TestBackchannelOnPhoneSignOutAndLogout(t *testing.T) {
	e, rc := startWithReceiver(t)
	app := e.rp("app", secretA, rpBase+"/callback")

	// Remote sign-out from the phone's session list.
	p := e.newPhone("remote")
	res := e.login(newBrowser(t), app, p)
	sid := res.claims["sid"].(string)
	start := time.Now()
	e.api("DELETE", "/api/v1/mp/sessions/"+sid, p.token, nil, http.StatusNoContent, nil)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("remote sign-out took %s: it waited for the client", d)
	}
	if c := e.logoutClaims(rc.wait(t, 10*time.Second), "app"); c["sid"] != sid {
		t.Fatalf("sid %v, want %s", c["sid"], sid)
	}

	// The site's own logout, with a client that is down twice first: the
	// logout answers at once, the delivery is retried.
	rc.fail.Store(2)
	b := newBrowser(t)
	res = e.login(b, app, e.newPhone("logout"))
	req, _ := http.NewRequest("POST", e.inst.URL+"/api/v1/session/logout", nil)
	start = time.Now()
	resp, err := b.c.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %v %v", resp, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("logout took %s", d)
	}
	if c := e.logoutClaims(rc.wait(t, 15*time.Second), "app"); c["sid"] != res.claims["sid"] {
		t.Fatalf("sid %v, want %v", c["sid"], res.claims["sid"])
	}
	if rc.fail.Load() > 0 {
		t.Fatal("delivered without the retries")
	}
}

func TestRevocation(t *testing.T) {
	e := start(t, "", "")
	r := e.rp("app", secretA, rpBase+"/callback")
	r.cfg.Scopes = append(r.cfg.Scopes, oidc.ScopeOfflineAccess)
	res := e.login(newBrowser(t), r, e.newPhone("revoke"))

	st, _ := e.postForm(oidcop.PathRevoke, url.Values{"token": {res.tok.AccessToken}, "token_type_hint": {"access_token"}}, "app", secretA)
	if st != http.StatusOK {
		t.Fatalf("revoke access token: %d", st)
	}
	if st, _ := e.userinfo("GET", res.tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo with a revoked access token: %d", st)
	}
	tok2, err := r.refresh(res.tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after revoking the access token: %v", err)
	}
	// Another client cannot revoke it.
	e.postForm(oidcop.PathRevoke, url.Values{"token": {tok2.RefreshToken}}, "ed", secretEd)
	if st, _ := e.userinfo("GET", tok2.AccessToken); st != 200 {
		t.Fatalf("another client's revocation took effect: %d", st)
	}
	st, _ = e.postForm(oidcop.PathRevoke, url.Values{"token": {tok2.RefreshToken}, "token_type_hint": {"refresh_token"}}, "app", secretA)
	if st != http.StatusOK {
		t.Fatalf("revoke refresh token: %d", st)
	}
	if _, err := r.refresh(tok2.RefreshToken); err == nil {
		t.Fatal("a revoked refresh token works")
	}
	if st, _ := e.userinfo("GET", tok2.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo on a revoked grant: %d", st)
	}
	// Unknown tokens are no error (RFC 7009 §2.2).
	if st, _ := e.postForm(oidcop.PathRevoke, url.Values{"token": {"nonsense"}}, "app", secretA); st != http.StatusOK {
		t.Fatalf("revoke unknown: %d", st)
	}
}

func TestTwoInstances(t *testing.T) {
	a := start(t, "", "")
	b := start(t, "", a.inst.Redis.URL(), a.inst.DatabaseURL)
	if b.issuer() != a.issuer() {
		t.Fatalf("issuers %s and %s", a.issuer(), b.issuer())
	}
	r := a.rp("app", secretA, rpBase+"/callback")
	r.cfg.Scopes = append(r.cfg.Scopes, oidc.ScopeOfflineAccess)
	// Authorize on a (the issuer's URL), exchange the code on b.
	r.cfg.Endpoint.TokenURL = b.inst.URL + oidcop.PathToken
	res := a.login(newBrowser(t), r, a.newPhone("two"))
	if st, ui := b.userinfo("POST", res.tok.AccessToken); st != 200 || ui["sub"] != res.claims["sub"] {
		t.Fatalf("userinfo on b: %d %v", st, ui)
	}
	// Refresh on a.
	r.cfg.Endpoint.TokenURL = a.inst.URL + oidcop.PathToken
	tok2, err := r.refresh(res.tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh on a: %v", err)
	}
	if st, _ := b.userinfo("GET", tok2.AccessToken); st != 200 {
		t.Fatalf("userinfo on b with a's token: %d", st)
	}
}

// TestUILocalesReachTheScanPage: an authorization request's ui_locales goes
// with the browser to the scan page, which picks its language from it as
// from ?lang= (README.md, "Phones, QR modes and languages").
func TestUILocalesReachTheScanPage(t *testing.T) {
	e := start(t, "", "")
	r := e.rp("app", secretA, rpBase+"/callback")
	b := newBrowser(t)
	next := r.cfg.AuthCodeURL(randState(), oauth2.SetAuthURLParam("ui_locales", "zh-CN en"), oauth2.S256ChallengeOption(newPKCE().verifier))
	for range 5 {
		resp := b.get(next)
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil || resp.Header.Get("Location") == "" {
			t.Fatalf("GET %s: %d, no scan page", next, resp.StatusCode)
		}
		if loc.Path == "/" && loc.Query().Get("oidc") != "" {
			if got := loc.Query().Get("ui_locales"); got != "zh-CN en" {
				t.Fatalf("scan page %s: ui_locales %q, want %q", loc, got, "zh-CN en")
			}
			return
		}
		next = loc.String()
	}
	t.Fatal("never reached the scan page")
}

// TestGrantIsNoWebSession: a client's refresh token is no web session of
// ours. Posted to the web session's refresh endpoint (as any holder of it,
// a public client's page included, could), it is refused as an unknown
// token, mints no web access token, and keeps working for its client.
func TestGrantIsNoWebSession(t *testing.T) {
	e := start(t, "", "")
	r := e.rp("app", secretA, rpBase+"/callback")
	r.cfg.Scopes = append(r.cfg.Scopes, oidc.ScopeOfflineAccess)
	res := e.login(newBrowser(t), r, e.newPhone("grant"))
	rt := res.tok.RefreshToken
	if rt == "" {
		t.Fatal("no refresh token with offline_access")
	}
	req, _ := http.NewRequest("POST", e.inst.URL+"/api/v1/session/refresh", strings.NewReader(`{"refresh_token":"`+rt+`"}`))
	req.Header.Set("Content-Type", "application/json")
	st, body := e.doJSON(req)
	if errBody, _ := body["error"].(map[string]any); st != http.StatusUnauthorized || errBody["code"] != "invalid_token" || body["access_token"] != nil {
		t.Fatalf("a grant's refresh token at the web refresh: %d %v, want 401 invalid_token", st, body)
	}
	if tok, err := r.refresh(rt); err != nil || tok.RefreshToken == "" {
		t.Fatalf("the grant after the refused web refresh: %v", err)
	}
}

// TestRequestBoundToBrowser: an authorization request belongs to the
// browser that made it. Another browser that has its ID, signed in or not,
// can neither complete it with its own session (login CSRF: the victim
// would be signed in to the client as the attacker) nor have the victim's
// session complete a request it made and sent (the attacker would get the
// victim's code), and a cookie-less poller of the callback gets no code.
// The browser that made it signs in as before.
func TestRequestBoundToBrowser(t *testing.T) {
	e := start(t, "", "")
	r := e.rp("app", secretA, rpBase+"/callback")
	attacker := newBrowser(t)
	e.login(attacker, r, e.newPhone("attacker")) // a live session and SSO

	// The victim's browser starts a sign-in; its request ID leaks.
	victim := newBrowser(t)
	pk := newPKCE()
	resp := victim.get(r.cfg.AuthCodeURL(randState(), oauth2.S256ChallengeOption(pk.verifier)))
	loginURL, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	page, _ := resp.Request.URL.Parse(victim.get(loginURL.String()).Header.Get("Location"))
	id := page.Query().Get("oidc")
	if id == "" {
		t.Fatalf("the victim's browser was sent to %s, not the scan page", page)
	}

	refused := func(who string, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(bodyOf(resp), "started in another browser") {
			t.Fatalf("%s: %d %s %s, want the other-browser page", who, resp.StatusCode, resp.Header.Get("Location"), bodyOf(resp))
		}
	}
	refused("the attacker's signed-in browser at the login step", attacker.get(e.issuer()+oidcop.PathLogin+"?id="+id))
	if st, _ := e.doJSON(mustRequest(t, "GET", e.issuer()+oidcop.PathLoginInfo+"?id="+id)); st != http.StatusNotFound {
		t.Fatalf("the request's client name for another browser: %d", st)
	}
	refused("a cookie-less callback", newBrowser(t).get(e.issuer()+oidcop.PathCallback+"?id="+id))

	// The victim signs in: the code comes back to the victim's browser,
	// for the victim, and to nobody else.
	loc, _ := e.authorize(victim, e.issuer()+oidcop.PathLogin+"?id="+id, e.newPhone("victim"))
	if loc.Query().Get("code") == "" {
		t.Fatalf("the victim's own sign-in: %s", loc)
	}
	// Afterwards the request is done: nobody goes on with it, the victim's
	// own browser (its cookie went with the code) included, and they read
	// so, not that another browser started it.
	for who, b := range map[string]*browser{"the attacker": attacker, "the victim again": victim} {
		for _, path := range []string{oidcop.PathCallback, oidcop.PathLogin} {
			if resp := b.get(e.issuer() + path + "?id=" + id); resp.StatusCode != http.StatusBadRequest || !strings.Contains(bodyOf(resp), "already complete") {
				t.Errorf("%s at %s after the sign-in: %d %s", who, path, resp.StatusCode, bodyOf(resp))
			}
		}
	}

	// The reverse: a request the attacker made, sent to the victim.
	resp = attacker.get(r.cfg.AuthCodeURL(randState(), oauth2.S256ChallengeOption(newPKCE().verifier)))
	theirs, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	refused("the victim's signed-in browser on the attacker's request", victim.get(theirs.String()))
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestLogoutAsksFirst: RP-initiated logout without an id_token_hint of
// this browser's session asks the user first (RP-Initiated Logout 1.0
// section 2), so a link or a page elsewhere cannot sign anyone out, and a
// confirmation forged elsewhere is asked again. Confirmed, it ends this
// browser's own session, never the hint's other one.
func TestLogoutAsksFirst(t *testing.T) {
	e := start(t, "", "")
	app := e.rp("app", secretA, rpBase+"/callback")
	alive := func(who string, tok string, want int) {
		t.Helper()
		if st, _ := e.userinfo("GET", tok); st != want {
			t.Fatalf("%s: userinfo %d, want %d", who, st, want)
		}
	}

	b := newBrowser(t)
	res := e.login(b, app, e.newPhone("asked"))
	page := b.get(e.issuer() + oidcop.PathEndSession)
	if page.StatusCode != http.StatusOK || !strings.Contains(bodyOf(page), `id="confirm-logout"`) {
		t.Fatalf("a bare end_session: %d %s", page.StatusCode, bodyOf(page))
	}
	alive("after the question", res.tok.AccessToken, 200)
	forged, err := b.c.PostForm(e.issuer()+oidcop.PathEndSession, url.Values{"confirm": {"made-up"}})
	if err != nil {
		t.Fatal(err)
	}
	forged.Body.Close()
	if forged.StatusCode != http.StatusOK {
		t.Fatalf("a made-up confirmation: %d", forged.StatusCode)
	}
	alive("after a made-up confirmation", res.tok.AccessToken, 200)
	if done := b.confirmLogout(page); done.StatusCode != http.StatusFound || done.Header.Get("Location") != oidcop.PathLoggedOut {
		t.Fatalf("confirmed: %d %q", done.StatusCode, done.Header.Get("Location"))
	}
	alive("confirmed", res.tok.AccessToken, http.StatusUnauthorized)

	// Another session's hint.
	ann, bob := newBrowser(t), newBrowser(t)
	annRes := e.login(ann, app, e.newPhone("ann"))
	bobRes := e.login(bob, app, e.newPhone("bob"))
	q := url.Values{"id_token_hint": {annRes.raw}, "post_logout_redirect_uri": {rpBase + "/bye"}, "state": {"s3"}}
	page = bob.get(e.issuer() + oidcop.PathEndSession + "?" + q.Encode())
	alive("Ann, after Bob was asked", annRes.tok.AccessToken, 200)
	alive("Bob, asked", bobRes.tok.AccessToken, 200)
	if done := bob.confirmLogout(page); done.StatusCode != http.StatusFound || done.Header.Get("Location") != rpBase+"/bye?state=s3" {
		t.Fatalf("Bob confirmed: %d %q", done.StatusCode, done.Header.Get("Location"))
	}
	alive("Bob, confirmed", bobRes.tok.AccessToken, http.StatusUnauthorized)
	alive("Ann, whose hint Bob presented", annRes.tok.AccessToken, 200)
}

// TestTwoSignInsAtOnce: two authorization requests that leave one browser
// before either answer is back (two tabs restored together) each keep
// their binding, and both sign in.
func TestTwoSignInsAtOnce(t *testing.T) {
	e := start(t, "", "")
	app := e.rp("app", secretA, rpBase+"/callback")
	b := newBrowser(t)
	e.login(b, app, e.newPhone("tabs")) // single sign-on for both
	// The sign-in's binding is gone (it lasts 10 minutes), the session stays.
	iss, _ := url.Parse(e.issuer())
	oidcPath, _ := url.Parse(e.issuer() + oidcop.PathLogin)
	for _, c := range b.c.Jar.Cookies(oidcPath) {
		if strings.HasPrefix(c.Name, oidcop.BrowserCookie) {
			b.c.Jar.SetCookies(oidcPath, []*http.Cookie{{Name: c.Name, Path: "/oidc/", MaxAge: -1}})
		}
	}
	// Both requests leave with the cookies the browser had before either
	// answer came; the answers' cookies land in order.
	authURL := app.cfg.AuthCodeURL(randState(), oauth2.S256ChallengeOption(newPKCE().verifier))
	au, _ := url.Parse(authURL)
	before := b.c.Jar.Cookies(au)
	var answers []*http.Response
	for range 2 {
		req, _ := http.NewRequest("GET", app.cfg.AuthCodeURL(randState(), oauth2.S256ChallengeOption(newPKCE().verifier)), nil)
		for _, c := range before {
			req.AddCookie(c)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		answers = append(answers, resp)
	}
	var logins []string
	for _, resp := range answers {
		b.c.Jar.SetCookies(au, resp.Cookies())
		logins = append(logins, resp.Header.Get("Location"))
	}
	for i, l := range logins {
		rel, _ := url.Parse(l)
		loc, _ := e.authorize(b, iss.ResolveReference(rel).String(), nil)
		if loc.Query().Get("code") == "" {
			t.Fatalf("tab %d: %s", i+1, loc)
		}
	}
}

// TestLogoutOfAnEndedSession: a client's logout with the hint of a session
// that already ended (signed out from the phone), from a browser with none,
// has nothing to ask about and goes straight back.
func TestLogoutOfAnEndedSession(t *testing.T) {
	e := start(t, "", "")
	app := e.rp("app", secretA, rpBase+"/callback")
	p := e.newPhone("gone")
	res := e.login(newBrowser(t), app, p)
	e.api("DELETE", "/api/v1/mp/sessions/"+res.claims["sid"].(string), p.token, nil, http.StatusNoContent, nil)
	q := url.Values{"id_token_hint": {res.raw}, "post_logout_redirect_uri": {rpBase + "/bye"}}
	resp := newBrowser(t).get(e.issuer() + oidcop.PathEndSession + "?" + q.Encode())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != rpBase+"/bye" {
		t.Fatalf("logout of an ended session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestBindingCookieSpent: a request's browser cookie is removed once it is
// spent: by the code going back to the client, or by an answer given at
// once (an error page, prompt=none's login_required). Each request makes
// one, and a browser keeps few cookies a site (about 180, then it drops
// the oldest): left to their 10 minutes, an application that starts
// sign-ins in a loop could push out the session cookie.
func TestBindingCookieSpent(t *testing.T) {
	e := start(t, "", "")
	r := e.rp("app", secretA, rpBase+"/callback")
	bindings := func(b *browser) []string {
		t.Helper()
		var names []string
		at, _ := url.Parse(e.issuer() + oidcop.PathCallback)
		for _, c := range b.c.Jar.Cookies(at) {
			if strings.HasPrefix(c.Name, oidcop.BrowserCookie+"_") {
				names = append(names, c.Name)
			}
		}
		return names
	}

	b := newBrowser(t)
	e.login(b, r, e.newPhone("u1"))
	if n := bindings(b); len(n) != 0 {
		t.Errorf("after a sign-in, the browser keeps %v", n)
	}
	e.login(b, r, nil) // signed in already: the code comes at once
	if n := bindings(b); len(n) != 0 {
		t.Errorf("after a second, single sign-on, sign-in, the browser keeps %v", n)
	}

	fresh := newBrowser(t)
	resp := fresh.get(r.cfg.AuthCodeURL(randState(), oauth2.S256ChallengeOption(newPKCE().verifier), oauth2.SetAuthURLParam("prompt", "none")))
	next, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if resp = fresh.get(next.String()); !strings.Contains(resp.Header.Get("Location"), "error=login_required") {
		t.Fatalf("prompt=none without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := fresh.get(e.issuer() + oidcop.PathAuthorize + "?client_id=nobody&response_type=code&scope=openid&redirect_uri=" + url.QueryEscape(rpBase+"/callback")); resp.StatusCode < 400 {
		t.Fatalf("an unknown client: %d", resp.StatusCode)
	} else if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("an unknown client's error page sets cookies: %q", c) // not even one it removes again
	}
	if n := bindings(fresh); len(n) != 0 {
		t.Errorf("after answers given at once, the browser keeps %v", n)
	}

	// A request under way keeps its cookie.
	resp = fresh.get(r.cfg.AuthCodeURL(randState(), oauth2.S256ChallengeOption(newPKCE().verifier)))
	if !strings.Contains(resp.Header.Get("Location"), oidcop.PathLogin+"?") || len(bindings(fresh)) != 1 {
		t.Fatalf("a sign-in under way: %s, bindings %v", resp.Header.Get("Location"), bindings(fresh))
	}
}

// TestStepsSpeakTheRequestsLanguage: a page of a later step (here a browser
// that did not start the request, at the login step) speaks the language
// the client asked for with ui_locales, as the scan page does, whatever the
// browser's own languages.
func TestStepsSpeakTheRequestsLanguage(t *testing.T) {
	e := start(t, "", "")
	r := e.rp("app", secretA, rpBase+"/callback")
	resp := newBrowser(t).get(r.cfg.AuthCodeURL(randState(), oauth2.S256ChallengeOption(newPKCE().verifier), oauth2.SetAuthURLParam("ui_locales", "zh-CN")))
	login, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	req := mustRequest(t, "GET", login.String())
	req.Header.Set("Accept-Language", "en-US")
	other := newBrowser(t)
	got, err := other.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := bodyOf(got)
	if got.StatusCode != http.StatusBadRequest || !strings.Contains(body, "另一个浏览器") || !strings.Contains(body, `lang="zh`) {
		t.Fatalf("another browser at the login step of a ui_locales=zh-CN request: %d %s", got.StatusCode, body)
	}
}
