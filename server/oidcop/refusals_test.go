package oidcop_test

import (
	"encoding/base64"
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

// codeFor runs an authorization request to the code, without exchanging it.
func (e *env) codeFor(b *browser, r *rp, p *phone, verifier string) string {
	e.t.Helper()
	state := randState()
	opts := []oauth2.AuthCodeOption{oidc.Nonce(randState())}
	if verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	loc, _ := e.authorize(b, r.cfg.AuthCodeURL(state, opts...), p)
	if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		e.t.Fatalf("no code: %s", loc)
	}
	return loc.Query().Get("code")
}

// noRedirect asserts an error page of ours: no Location, Chinese to a
// Chinese browser.
func noRedirect(t *testing.T, u string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := bodyOf(resp)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("%s: %d Location %q, want 400 and no redirect", u, resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `lang="zh-CN"`) {
		t.Fatalf("%s: not our Chinese page: %s", u, body)
	}
}

// unregisteredRedirects are redirect URIs client "app" did not register,
// each close to its rpBase+"/callback".
var unregisteredRedirects = []string{
	"https://evil.example/callback",
	rpBase + "/callback/../../evil",
	rpBase + "/callback?next=https://evil.example",
	rpBase + "/callback/",
	strings.ToUpper(rpBase) + "/callback",
	"//evil.example/callback",
	rpBase + "/callback#x",
	"http://127.0.0.1:9@evil.example/rp/callback",
	"",
}

func TestRefusals(t *testing.T) {
	e := start(t, "", "")
	iss := e.issuer()
	app := e.rp("app", secretA, rpBase+"/callback")
	authz := func(v url.Values) string { return iss + oidcop.PathAuthorize + "?" + v.Encode() }
	base := func(client, redirect string) url.Values {
		return url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	}

	t.Run("unknown client", func(t *testing.T) {
		noRedirect(t, authz(base("nobody", rpBase+"/callback")))
	})
	t.Run("unregistered redirect_uri", func(t *testing.T) {
		for _, ru := range unregisteredRedirects {
			noRedirect(t, authz(base("app", ru)))
		}
	})
	t.Run("unknown or replayed login request", func(t *testing.T) {
		noRedirect(t, iss+oidcop.PathLogin+"?id=0123456789abcdef0123456789abcdef")
		noRedirect(t, iss+oidcop.PathLogin+"?id=https://evil.example")
		noRedirect(t, iss+oidcop.PathCallback+"?id=0123456789abcdef0123456789abcdef")
	})
	t.Run("public client without PKCE", func(t *testing.T) {
		b := newBrowser(t)
		v := base("spa", rpBase+"/spa")
		v.Del("code_challenge")
		v.Del("code_challenge_method")
		loc, _ := e.authorize(b, authz(v), nil)
		if loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "s" {
			t.Fatalf("no PKCE: %s", loc)
		}
		v = base("spa", rpBase+"/spa")
		v.Set("code_challenge_method", "plain")
		loc, _ = e.authorize(b, authz(v), nil)
		if loc.Query().Get("error") != "invalid_request" {
			t.Fatalf("plain PKCE: %s", loc)
		}
	})
	t.Run("public client verifier", func(t *testing.T) {
		spa := e.rp("spa", "", rpBase+"/spa")
		b := newBrowser(t)
		p := e.newPhone("spa")
		for _, bad := range []string{"", oauth2.GenerateVerifier()} {
			code := e.codeFor(b, spa, p, oauth2.GenerateVerifier())
			opts := []oauth2.AuthCodeOption{}
			if bad != "" {
				opts = append(opts, oauth2.VerifierOption(bad))
			}
			if _, err := spa.cfg.Exchange(spa.ctx, code, opts...); err == nil {
				t.Fatalf("exchange with verifier %q succeeded", bad)
			}
		}
		v := oauth2.GenerateVerifier()
		code := e.codeFor(b, spa, p, v)
		tok, err := spa.cfg.Exchange(spa.ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("public client with the right verifier: %v", err)
		}
		if _, err := spa.verifier.Verify(spa.ctx, tok.Extra("id_token").(string)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		b := newBrowser(t)
		v := oauth2.GenerateVerifier()
		code := e.codeFor(b, app, e.newPhone("secret"), v)
		for _, auth := range []struct{ id, secret string }{{"app", secretEd}, {"app", ""}, {"ed", secretEd}, {"nobody", secretA}} {
			st, m := e.postForm(oidcop.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {rpBase + "/callback"}, "code_verifier": {v}}, auth.id, auth.secret)
			if st == http.StatusOK || m["access_token"] != nil {
				t.Fatalf("%s with a wrong secret: %d %v", auth.id, st, m)
			}
		}
	})
	t.Run("redirect_uri differs at the token endpoint", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.codeFor(newBrowser(t), app, e.newPhone("ru"), v)
		st, m := e.postForm(oidcop.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpBase + "/other"}, "code_verifier": {v}}, "app", secretA)
		if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("%d %v", st, m)
		}
	})
	t.Run("code reuse revokes what it issued", func(t *testing.T) {
		r := e.rp("app", secretA, rpBase+"/callback")
		r.cfg.Scopes = append(r.cfg.Scopes, oidc.ScopeOfflineAccess)
		v := oauth2.GenerateVerifier()
		code := e.codeFor(newBrowser(t), r, e.newPhone("reuse"), v)
		tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := e.userinfo("GET", tok.AccessToken); st != 200 {
			t.Fatalf("userinfo: %d", st)
		}
		if _, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(v)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("second exchange: %v, want invalid_grant", err)
		}
		if st, _ := e.userinfo("GET", tok.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("the first exchange's access token after reuse: %d, want 401", st)
		}
		if _, err := r.refresh(tok.RefreshToken); err == nil {
			t.Fatal("the first exchange's refresh token works after reuse")
		}
	})
	t.Run("expired code", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := e.codeFor(newBrowser(t), app, e.newPhone("late"), v)
		e.clock.advance(61 * time.Second)
		if _, err := app.cfg.Exchange(app.ctx, code, oauth2.VerifierOption(v)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("expired code: %v, want invalid_grant", err)
		}
	})
	t.Run("end session", func(t *testing.T) {
		b := newBrowser(t)
		res := e.login(b, app, e.newPhone("hint"))
		end := func(v url.Values) string { return iss + oidcop.PathEndSession + "?" + v.Encode() }
		// alg none, claims copied from the real token.
		parts := strings.Split(res.raw, ".")
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
		noRedirect(t, end(url.Values{"id_token_hint": {none}, "post_logout_redirect_uri": {rpBase + "/bye"}}))
		// A forged signature.
		noRedirect(t, end(url.Values{"id_token_hint": {parts[0] + "." + parts[1] + ".AAAA"}, "post_logout_redirect_uri": {rpBase + "/bye"}}))
		// The hint of app presented as ed's.
		noRedirect(t, end(url.Values{"id_token_hint": {res.raw}, "client_id": {"ed"}}))
		// Open redirects: an unregistered post_logout_redirect_uri.
		for _, u := range []string{"https://evil.example/", rpBase + "/bye/../../x", rpBase + "/bye?x=1", "//evil.example"} {
			noRedirect(t, end(url.Values{"id_token_hint": {res.raw}, "post_logout_redirect_uri": {u}}))
		}
		if st, _ := e.userinfo("GET", res.tok.AccessToken); st != 200 {
			t.Fatalf("a refused logout ended the session: %d", st)
		}
		// Without a hint the user is asked first; confirmed, the URI
		// (no client to check it against) is ignored: our own page.
		resp := b.confirmLogout(b.get(end(url.Values{"post_logout_redirect_uri": {"https://evil.example/"}})))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != oidcop.PathLoggedOut {
			t.Fatalf("logout without hint: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("prompt none error goes only to a registered URI", func(t *testing.T) {
		v := base("app", "https://evil.example/cb")
		v.Set("prompt", "none")
		noRedirect(t, authz(v))
	})
}

func TestUserinfoRefusals(t *testing.T) {
	e := start(t, "", "")
	for _, tok := range []string{"", "garbage", strings.Repeat("A", 600)} {
		st, m := e.userinfo("GET", tok)
		if st != http.StatusUnauthorized {
			t.Fatalf("userinfo with %q: %d %v", tok, st, m)
		}
	}
	// A scanlogin access token (an EdDSA JWT for the web API) is not an
	// OIDC access token.
	b := newBrowser(t)
	var red struct {
		AccessToken string `json:"access_token"`
	}
	var sc struct{ Scene, PollToken string }
	var raw map[string]any
	e.apiVia(b.c, "POST", "/api/v1/qr", "", nil, 201, &raw)
	sc.Scene, sc.PollToken = raw["scene"].(string), raw["poll_token"].(string)
	p := e.newPhone("web")
	e.api("POST", "/api/v1/qr/"+sc.Scene+"/scan", p.token, nil, 200, nil)
	e.api("POST", "/api/v1/qr/"+sc.Scene+"/confirm", p.token, nil, 200, nil)
	e.apiVia(b.c, "POST", "/api/v1/qr/"+sc.Scene+"/redeem", sc.PollToken, nil, 200, &red)
	if st, _ := e.userinfo("GET", red.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo with a web access token: %d", st)
	}
	// And a web session's refresh token is no OIDC refresh token.
	_ = json.Marshal
}

// TestRedisDown: with Redis gone the provider answers 503 with
// Retry-After, as the rest of scanlogin does, never a 500 or a session.
func TestRedisDown(t *testing.T) {
	e := start(t, "", "")
	app := e.rp("app", secretA, rpBase+"/callback")
	app.cfg.Scopes = append(app.cfg.Scopes, oidc.ScopeOfflineAccess)
	res := e.login(newBrowser(t), app, e.newPhone("down"))
	e.inst.Redis.Stop()
	check := func(what string, st int, hdr http.Header) {
		t.Helper()
		if st != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Errorf("%s with Redis down: %d, Retry-After %q", what, st, hdr.Get("Retry-After"))
		}
	}
	do := func(req *http.Request) (int, http.Header) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	req, _ := http.NewRequest("GET", e.inst.URL+oidcop.PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+res.tok.AccessToken)
	st, h := do(req)
	check("userinfo", st, h)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {rpBase + "/callback"}}
	req, _ = http.NewRequest("POST", e.inst.URL+oidcop.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", secretA)
	st, h = do(req)
	check("token", st, h)
	// A revocation that could not be done says so (RFC 7009 §2.2.1), for
	// either kind of token: a 200 would tell the client it was.
	for _, tok := range []string{res.tok.RefreshToken, res.tok.AccessToken} {
		form := url.Values{"token": {tok}}
		req, _ = http.NewRequest("POST", e.inst.URL+oidcop.PathRevoke, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("app", secretA)
		st, h = do(req)
		check("revocation", st, h)
	}
	req, _ = http.NewRequest("GET", e.inst.URL+oidcop.PathLogin+"?id=0123456789abcdef0123456789abcdef", nil)
	st, h = do(req)
	check("login step", st, h)
	// Its page speaks one language: the reader's.
	for lang, want := range map[string]string{"zh-CN": "<title>服务暂时不可用</title>", "en-US": "<title>Service unavailable</title>"} {
		req, _ = http.NewRequest("GET", e.inst.URL+oidcop.PathLogin+"?id=0123456789abcdef0123456789abcdef", nil)
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := bodyOf(resp); !strings.Contains(body, want) {
			t.Errorf("login step with Redis down, %s: want %s in %s", lang, want, body)
		}
		resp.Body.Close()
	}
	v := url.Values{"client_id": {"app"}, "redirect_uri": {rpBase + "/callback"}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(e.inst.URL + oidcop.PathAuthorize + "?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The client is known, so the error goes back to it per OAuth.
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "server_error" {
		t.Errorf("authorize with Redis down: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestBusy: the answers of a request refused under overload
// (docs/ARCHITECTURE.md#overload). An authorization request that names a
// registered client, one of its registered redirect URIs and the code flow
// goes back to the client with temporarily_unavailable and its state, as
// the library sends a normal request's errors (query, or fragment when
// asked); any other gets the busy page and no redirect. Back-channel
// endpoints answer OAuth's JSON error. All with Retry-After.
func TestBusy(t *testing.T) {
	e := start(t, "", "")
	busy := e.inst.App.OIDC
	if busy == nil {
		t.Fatal("no provider")
	}
	iss := e.issuer()
	// The iss parameter (RFC 9207) is sent exactly when discovery says so.
	discReq, _ := http.NewRequest("GET", iss+oidcop.PathDiscovery, nil)
	_, disc := e.doJSON(discReq)
	if len(disc) == 0 {
		t.Fatal("no discovery document")
	}
	sendsIss := disc["authorization_response_iss_parameter_supported"] == true
	valid := func(client, redirect string) url.Values {
		return url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"st-42"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	}
	with := func(v url.Values, kv ...string) url.Values {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	refuse := func(method, rawQuery string, form url.Values) *http.Response {
		t.Helper()
		var req *http.Request
		if method == http.MethodPost {
			req = httptest.NewRequest(method, iss+oidcop.PathAuthorize, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(method, iss+oidcop.PathAuthorize+"?"+rawQuery, nil)
		}
		req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
		w := httptest.NewRecorder()
		busy.Busy(w, req, 1)
		resp := w.Result()
		if resp.Header.Get("Retry-After") != "1" {
			t.Errorf("%s %s: Retry-After %q, want 1", method, rawQuery+form.Encode(), resp.Header.Get("Retry-After"))
		}
		return resp
	}

	redirects := []struct {
		name     string
		method   string
		v        url.Values
		fragment bool
		state    string
	}{
		{"GET", "GET", valid("app", rpBase+"/callback"), false, "st-42"},
		{"POST form", "POST", valid("app", rpBase+"/callback"), false, "st-42"},
		{"public client", "GET", valid("spa", rpBase+"/spa"), false, "st-42"},
		{"no state", "GET", with(valid("app", rpBase+"/callback"), "state", ""), false, ""},
		{"response_mode=query", "GET", with(valid("app", rpBase+"/callback"), "response_mode", "query"), false, "st-42"},
		{"response_mode=fragment", "GET", with(valid("app", rpBase+"/callback"), "response_mode", "fragment"), true, "st-42"},
	}
	for _, tc := range redirects {
		t.Run("redirect/"+tc.name, func(t *testing.T) {
			resp := refuse(tc.method, tc.v.Encode(), tc.v)
			loc, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || err != nil {
				t.Fatalf("%d Location %q, want 302 to the client", resp.StatusCode, resp.Header.Get("Location"))
			}
			params := loc.Query()
			if tc.fragment {
				params, _ = url.ParseQuery(loc.Fragment)
				if loc.RawQuery != "" {
					t.Errorf("fragment mode with a query: %s", loc)
				}
			}
			loc.RawQuery, loc.Fragment = "", ""
			if loc.String() != tc.v.Get("redirect_uri") {
				t.Errorf("redirected to %s, want %s", loc, tc.v.Get("redirect_uri"))
			}
			if params.Get("error") != "temporarily_unavailable" || params.Get("error_description") == "" ||
				params.Get("state") != tc.state || params.Has("state") != (tc.state != "") || params.Has("code") {
				t.Errorf("parameters %v", params)
			}
			if params.Has("iss") != sendsIss || (sendsIss && params.Get("iss") != iss) {
				t.Errorf("iss %q; discovery advertises it: %v", params.Get("iss"), sendsIss)
			}
		})
	}

	pages := []struct {
		name   string
		method string
		query  string
	}{
		{"unknown client", "GET", valid("nobody", rpBase+"/callback").Encode()},
		{"no client", "GET", with(valid("app", rpBase+"/callback"), "client_id", "").Encode()},
		{"missing redirect_uri", "GET", with(valid("app", rpBase+"/callback"), "redirect_uri", "").Encode()},
		{"another client's redirect_uri", "GET", valid("app", rpBase+"/spa").Encode()},
		{"response_type token", "GET", with(valid("app", rpBase+"/callback"), "response_type", "token").Encode()},
		{"no response_type", "GET", with(valid("app", rpBase+"/callback"), "response_type", "").Encode()},
		{"unparseable query", "GET", valid("app", rpBase+"/callback").Encode() + "&x=%zz"},
		{"unparseable max_age", "GET", with(valid("app", rpBase+"/callback"), "max_age", "soon").Encode()},
		{"POST form, unregistered redirect_uri", "POST", valid("app", "https://evil.example/callback").Encode()},
	}
	for _, ru := range unregisteredRedirects {
		pages = append(pages, struct{ name, method, query string }{"redirect_uri " + ru, "GET", valid("app", ru).Encode()})
	}
	for _, tc := range pages {
		t.Run("page/"+tc.name, func(t *testing.T) {
			form, _ := url.ParseQuery(tc.query)
			resp := refuse(tc.method, tc.query, form)
			body := bodyOf(resp)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" ||
				!strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "服务繁忙") {
				t.Errorf("%d Location %q, want the busy page: %.200s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
		})
	}

	t.Run("token endpoint", func(t *testing.T) {
		w := httptest.NewRecorder()
		busy.Busy(w, httptest.NewRequest("POST", iss+oidcop.PathToken, nil), 1)
		var m map[string]string
		_ = json.Unmarshal(w.Body.Bytes(), &m)
		if w.Code != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" || w.Header().Get("Retry-After") != "1" {
			t.Errorf("%d %v", w.Code, m)
		}
	})
}

// TestPagesHaveCSP: the provider's own HTML pages (an error page, the
// sign-out question, the signed-out page) carry a Content-Security-Policy
// as every HTML page of scanlogin does (docs/ARCHITECTURE.md#security): no
// script, no plugins, no <base>, no framing.
func TestPagesHaveCSP(t *testing.T) {
	e := start(t, "", "")
	b := newBrowser(t)
	e.login(b, e.rp("app", secretA, rpBase+"/callback"), e.newPhone("csp")) // so that end_session asks
	bad := url.Values{"client_id": {"nobody"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}}
	for _, p := range []string{oidcop.PathAuthorize + "?" + bad.Encode(), oidcop.PathEndSession, oidcop.PathLoggedOut} {
		resp := b.get(e.issuer() + p)
		if resp.StatusCode == http.StatusFound || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s, want a page", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'self'", "base-uri 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", p, csp, want)
			}
		}
	}
}

// TestPagesSpeakTheirLanguage: a provider page's words are in the language
// of its <html lang>, or marked with their own (WCAG 3.1.2), so a screen
// reader reads each in the right voice: the library's English error detail
// on a Chinese page, and the page a broken store gives.
func TestPagesSpeakTheirLanguage(t *testing.T) {
	e := start(t, "", "")
	bad := url.Values{"client_id": {"nobody"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"}, "lang": {"zh"}}
	page := bodyOf(newBrowser(t).get(e.issuer() + oidcop.PathAuthorize + "?" + bad.Encode()))
	if !strings.Contains(page, `<html lang="zh-CN">`) || !strings.Contains(page, "<code") {
		t.Fatalf("a bad request's page, in Chinese, with the detail:\n%s", page)
	}
	if !strings.Contains(page, `<code lang="en">`) {
		t.Errorf("the English detail on a Chinese page is not marked lang=\"en\":\n%s", page)
	}

	e.inst.Redis.Stop()
	for _, tc := range []struct{ lang, html, foreign string }{
		{"zh", `<html lang="zh-CN">`, "Service"},
		{"en", `<html lang="en">`, "服务"},
	} {
		page := bodyOf(newBrowser(t).get(e.inst.URL + oidcop.PathLogin + "?id=0123456789abcdef0123456789abcdef&lang=" + tc.lang))
		if !strings.Contains(page, tc.html) {
			t.Fatalf("?lang=%s: page without %s:\n%s", tc.lang, tc.html, page)
		}
		if strings.Contains(page, tc.foreign) {
			t.Errorf("?lang=%s: the page says %q in the other language:\n%s", tc.lang, tc.foreign, page)
		}
	}
}
