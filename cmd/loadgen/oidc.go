package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// -mode oidc: every browser signs in to an OpenID Connect client the way a
// relying party sends it (docs/OIDC.md): the authorization request, the
// provider's hand-off to the scan page, the scene as in the long-poll mode,
// then back through the provider with the session cookie to the client's
// redirect URI, and the client's back end exchanges the code at the token
// endpoint (on the phones' instance, so the code crosses instances). A
// login counts when the token answer carries an ID token; its latency
// (confirm -> tokens) is reported as oidc_confirm_to_tokens.

// Defaults of the client loadgen registers on the servers it starts.
const (
	oidcClientID   = "loadgen"
	oidcSecret     = "loadgen-client-secret-not-a-secret-0000"
	oidcRedirect   = "http://127.0.0.1:9/loadgen/callback"
	oidcClientYAML = `clients:
  - id: loadgen
    secret: "` + oidcSecret + `"
    redirect_uris: ["` + oidcRedirect + `"]
`
)

// oidcFlow is one browser's authorization request in progress.
type oidcFlow struct {
	id, state, verifier string
	// browser is the provider's cookie binding the request to this
	// browser (scanlogin_op_browser_<id>), as a Cookie header value.
	browser string
}

// noRedirect is the browsers' client, stopping at every redirect so the
// flow can be followed step by step.
func (l *load) noRedirect() *http.Client {
	c := *l.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func randToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// redirectStep GETs u and returns where it redirects to, with the cookies
// the answer set.
func (l *load) redirectStep(ctx context.Context, u, ip, cookie string) (*url.URL, []*http.Cookie, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("X-Forwarded-For", ip)
	req.Header.Set("User-Agent", "scanlogin-loadgen/1 (browser)")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	l.st.request("browser")
	resp, err := l.noRedirect().Do(req)
	if err != nil {
		return nil, nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	return loc, resp.Cookies(), err
}

// oidcAuthorize starts an authorization request and follows it to the scan
// page, whose oidc parameter is the request's ID.
func (l *load) oidcAuthorize(ctx context.Context, base, ip string) (*oidcFlow, error) {
	f := &oidcFlow{state: randToken(), verifier: randToken() + randToken()}
	sum := sha256.Sum256([]byte(f.verifier))
	q := url.Values{
		"client_id": {l.cfg.oidcClient}, "redirect_uri": {l.cfg.oidcRedirect}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {f.state}, "nonce": {randToken()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	loc, cookies, err := l.redirectStep(ctx, base+"/oidc/authorize?"+q.Encode(), ip, "")
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	for _, c := range cookies {
		if strings.HasPrefix(c.Name, "scanlogin_op_browser_") {
			f.browser = c.Name + "=" + c.Value
		}
	}
	loc, _, err = l.redirectStep(ctx, base+loc.RequestURI(), ip, f.browser)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if f.id = loc.Query().Get("oidc"); f.id == "" {
		return nil, fmt.Errorf("login: sent to %s, not the scan page", loc.Path)
	}
	return f, nil
}

// oidcFinish goes back to the provider with the session cookie, follows it
// to the client's redirect URI and exchanges the code.
func (l *load) oidcFinish(ctx context.Context, base, tokenBase, ip, cookie string, f *oidcFlow) error {
	cookie = strings.Join([]string{cookie, f.browser}, "; ")
	loc, _, err := l.redirectStep(ctx, base+"/oidc/login?id="+url.QueryEscape(f.id), ip, cookie)
	if err != nil {
		return fmt.Errorf("login return: %w", err)
	}
	loc, _, err = l.redirectStep(ctx, base+loc.RequestURI(), ip, cookie)
	if err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	q := loc.Query()
	if q.Get("state") != f.state || q.Get("code") == "" {
		return fmt.Errorf("callback: no code (error %q)", q.Get("error"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {l.cfg.oidcRedirect}, "code_verifier": {f.verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenBase+"/oidc/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(l.cfg.oidcClient), url.QueryEscape(l.cfg.oidcSecret))
	l.st.request("phone") // the client's back end, beside the phones
	resp, err := l.phoneClient.Do(req)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.IDToken == "" {
		return fmt.Errorf("token: status %d", resp.StatusCode)
	}
	return nil
}

// sessionCookie is the scanlogin_session cookie of a redeem answer, as a
// Cookie header value.
func sessionCookie(h http.Header) string {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "scanlogin_session" && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

var errNoCookie = errors.New("redeem: no session cookie")

// oidcDone records a finished OIDC sign-in: its confirm -> tokens time.
func (s *stats) oidcDone(d time.Duration, confirmedAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inWindow(confirmedAt) {
		s.oidcLat = append(s.oidcLat, d)
	}
}
