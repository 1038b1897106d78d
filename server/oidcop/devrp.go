package oidcop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// devRP is the demo relying party of dev mode at /dev/rp/: an ordinary
// OpenID Connect client (golang.org/x/oauth2 and coreos/go-oidc, as an
// integrator would write one) that signs in through this provider, shows
// the ID token's claims and signs out (RP-initiated logout).
type devRP struct {
	p        *Provider
	clientID string
}

// devRPCookie carries state, nonce and the PKCE verifier between the
// redirect and the callback (path /dev/rp/, minutes).
const devRPCookie = "scanlogin_devrp"

func (d *devRP) config(r *http.Request) (*oauth2.Config, *oidc.Provider, error) {
	c, ok := d.p.clients.get(d.clientID)
	if !ok {
		return nil, nil, errDevRP
	}
	// The demo talks to its own issuer over HTTP like any client would.
	ctx := oidc.ClientContext(r.Context(), d.p.opts.HTTPClient)
	prov, err := oidc.NewProvider(ctx, d.p.opts.Issuer)
	if err != nil {
		return nil, nil, err
	}
	return &oauth2.Config{
		ClientID:     c.cfg.ID,
		ClientSecret: c.cfg.Secret,
		Endpoint:     prov.Endpoint(),
		RedirectURL:  c.cfg.RedirectURIs[0],
		Scopes:       []string{oidc.ScopeOpenID, "profile", "phone", "email"},
	}, prov, nil
}

type devRPState struct {
	State, Nonce, Verifier string
}

func randString() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var errDevRP = &devRPError{}

type devRPError struct{}

func (*devRPError) Error() string { return "demo client not registered" }

func (d *devRP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zh := isZh(r)
	switch {
	case r.URL.Path == PathDevRP && r.URL.Query().Get("login") == "":
		d.render(w, zh, nil, "", r.URL.Query().Get("state") != "")
	case r.URL.Path == PathDevRP:
		cfg, _, err := d.config(r)
		if err != nil {
			d.fail(w, r, zh, err)
			return
		}
		st := devRPState{State: randString(), Nonce: randString(), Verifier: oauth2.GenerateVerifier()}
		b, _ := json.Marshal(st)
		http.SetCookie(w, &http.Cookie{Name: devRPCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: PathDevRP,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600, Secure: d.p.opts.SecureCookies})
		http.Redirect(w, r, cfg.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusFound)
	default: // callback
		d.callback(w, r, zh)
	}
}

func (d *devRP) callback(w http.ResponseWriter, r *http.Request, zh bool) {
	var st devRPState
	ck, err := r.Cookie(devRPCookie)
	if err == nil {
		if b, derr := base64.RawURLEncoding.DecodeString(ck.Value); derr == nil {
			err = json.Unmarshal(b, &st)
		} else {
			err = derr
		}
	}
	q := r.URL.Query()
	if err != nil || st.State == "" || q.Get("state") != st.State {
		d.fail(w, r, zh, errString("state mismatch"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: devRPCookie, Path: PathDevRP, MaxAge: -1})
	if e := q.Get("error"); e != "" {
		d.fail(w, r, zh, errString(e))
		return
	}
	cfg, prov, err := d.config(r)
	if err != nil {
		d.fail(w, r, zh, err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), d.p.opts.HTTPClient)
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		d.fail(w, r, zh, errString("token exchange failed"))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: d.p.now}).Verify(ctx, raw)
	if err != nil || idt.Nonce != st.Nonce {
		d.fail(w, r, zh, errString("ID token verification failed"))
		return
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	d.render(w, zh, claims, raw, false)
}

type errString string

func (e errString) Error() string { return string(e) }

func (d *devRP) fail(w http.ResponseWriter, r *http.Request, zh bool, err error) {
	d.p.log.Warn("dev rp: sign-in failed", "err", err.Error())
	d.p.renderPage(w, r, http.StatusBadGateway, map[bool]string{true: "示例应用：登录失败", false: "Demo application: sign-in failed"}[zh],
		msg{"示例应用没能完成登录。", "The demo application could not complete the sign-in."}, err.Error())
}

var devRPTmpl = template.Must(template.New("rp").Parse(`<!doctype html>
<html lang="{{if .Zh}}zh-CN{{else}}en{{end}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{if .Zh}}示例应用{{else}}Demo application{{end}}</title>
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<main class="page"><section class="card" id="rp" data-signed-in="{{if .Claims}}true{{else}}false{{end}}">
<h1>{{if .Zh}}示例应用（OpenID Connect 客户端）{{else}}Demo application (OpenID Connect client){{end}}</h1>
{{if .Claims}}
<p class="lead">{{if .Zh}}你已通过 scanlogin 登录。ID 令牌中的声明：{{else}}You signed in through scanlogin. The ID token's claims:{{end}}</p>
<table class="facts" id="claims">{{range .Claims}}<tr><th>{{.K}}</th><td data-claim="{{.K}}" style="word-break:break-all">{{.V}}</td></tr>{{end}}</table>
<form method="get" action="{{.EndSession}}">
<input type="hidden" name="id_token_hint" value="{{.IDToken}}">
<input type="hidden" name="post_logout_redirect_uri" value="{{.AfterLogout}}">
<input type="hidden" name="state" value="signed-out">
<button class="btn ghost" id="signout" type="submit">{{if .Zh}}退出登录{{else}}Sign out{{end}}</button>
</form>
{{else}}
{{if .SignedOut}}<p class="lead" id="signed-out">{{if .Zh}}你已退出登录。{{else}}You have signed out.{{end}}</p>{{end}}
<p class="lead">{{if .Zh}}这是一个普通的 OpenID Connect 应用，它把登录交给 scanlogin：扫码、在手机上确认，然后回到这里查看 ID 令牌。{{else}}An ordinary OpenID Connect application that leaves sign-in to scanlogin: scan, confirm on the phone, and come back here to see the ID token.{{end}}</p>
<p><a class="btn" id="signin" href="?login=1">{{if .Zh}}用微信登录{{else}}Sign in with WeChat{{end}}</a></p>
{{end}}
</section></main>
</body>
</html>
`))

type claimRow struct{ K, V string }

func (d *devRP) render(w http.ResponseWriter, zh bool, claims map[string]any, idToken string, signedOut bool) {
	var rows []claimRow
	for k, v := range claims {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case float64:
			s = strings.TrimSuffix(strings.TrimRight(strings.TrimRight(jsonNum(v), "0"), "."), ".")
			if k == "exp" || k == "iat" || k == "auth_time" {
				s = jsonNum(v) + " (" + time.Unix(int64(v), 0).Format(time.RFC3339) + ")"
			}
		default:
			b, _ := json.Marshal(v)
			s = string(b)
		}
		rows = append(rows, claimRow{k, s})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].K < rows[j].K })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = devRPTmpl.Execute(w, map[string]any{
		"Zh": zh, "Claims": rows, "IDToken": idToken, "SignedOut": signedOut,
		"EndSession": d.p.opts.Issuer + PathEndSession, "AfterLogout": d.afterLogout(),
	})
}

// afterLogout is the demo client's registered post-logout redirect URI.
func (d *devRP) afterLogout() string {
	if c, ok := d.p.clients.get(d.clientID); ok && len(c.cfg.PostLogoutRedirectURIs) > 0 {
		return c.cfg.PostLogoutRedirectURIs[0]
	}
	return ""
}

func jsonNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// DevClient is the demo client dev mode registers for /dev/rp/ on the
// instance at publicURL. Its secret is derived from secret (dev mode's
// fixed one), so every dev instance agrees.
func DevClient(publicURL string, secret []byte) ClientConfig {
	sum := sha256.Sum256(append([]byte("scanlogin dev rp\x00"), secret...))
	u := strings.TrimRight(publicURL, "/")
	return ClientConfig{
		ID:                     "scanlogin-demo",
		Name:                   "scanlogin 示例应用 / demo app",
		Secret:                 base64.RawURLEncoding.EncodeToString(sum[:]),
		RedirectURIs:           []string{u + PathDevRP + "callback"},
		PostLogoutRedirectURIs: []string{u + PathDevRP},
		IDTokenAlg:             AlgRS256,
		EmailDomain:            "wechat.example.invalid",
	}
}
