package oidcop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/server/oidcop"
)

func TestDiscoveryAndJWKS(t *testing.T) {
	e := start(t, "", "")
	resp, err := http.Get(e.inst.URL + oidcop.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	iss := e.issuer()
	want := map[string]string{
		"issuer":                 iss,
		"authorization_endpoint": iss + oidcop.PathAuthorize,
		"token_endpoint":         iss + oidcop.PathToken,
		"userinfo_endpoint":      iss + oidcop.PathUserinfo,
		"jwks_uri":               iss + "/.well-known/jwks.json",
		"end_session_endpoint":   iss + oidcop.PathEndSession,
		"revocation_endpoint":    iss + oidcop.PathRevoke,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %v, want %s", k, d[k], v)
		}
	}
	has := func(k, v string) {
		t.Helper()
		list, _ := d[k].([]any)
		if !slices.Contains(list, any(v)) {
			t.Errorf("%s = %v, want it to contain %s", k, d[k], v)
		}
	}
	has("id_token_signing_alg_values_supported", "RS256")
	has("id_token_signing_alg_values_supported", "EdDSA")
	has("code_challenge_methods_supported", "S256")
	// Only what works: a client may pick anything advertised.
	if fmt.Sprint(d["response_types_supported"]) != "[code]" ||
		fmt.Sprint(d["grant_types_supported"]) != "[authorization_code refresh_token]" || d["device_authorization_endpoint"] != nil {
		t.Errorf("response types %v, grant types %v, device endpoint %v; want [code], [authorization_code refresh_token], none",
			d["response_types_supported"], d["grant_types_supported"], d["device_authorization_endpoint"])
	}
	// Single-page clients read it from their own origin.
	req, _ := http.NewRequest("GET", e.inst.URL+oidcop.PathDiscovery, nil)
	req.Header.Set("Origin", "https://spa.example.com")
	if cr, err := http.DefaultClient.Do(req); err != nil || cr.Header.Get("Access-Control-Allow-Origin") == "" || cr.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("discovery from another origin: %v %v", cr.Header, err)
	} else {
		cr.Body.Close()
	}
	has("token_endpoint_auth_methods_supported", "client_secret_basic")
	has("token_endpoint_auth_methods_supported", "client_secret_post")
	has("token_endpoint_auth_methods_supported", "none")
	has("scopes_supported", "offline_access")
	if d["backchannel_logout_supported"] != true || d["backchannel_logout_session_supported"] != true {
		t.Errorf("back-channel logout not advertised: %v %v", d["backchannel_logout_supported"], d["backchannel_logout_session_supported"])
	}

	// One JWKS with the RSA key of ID tokens and the Ed25519 key of access
	// tokens (and of EdDSA ID tokens).
	jr, err := http.Get(e.inst.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer jr.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(jr.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	algs := map[string]bool{}
	for _, k := range set.Keys {
		algs[k.Algorithm] = true
		if !k.IsPublic() || k.KeyID == "" {
			t.Errorf("key %q: public %v", k.KeyID, k.IsPublic())
		}
	}
	if !algs["RS256"] || !algs["EdDSA"] {
		t.Fatalf("JWKS algorithms %v, want RS256 and EdDSA", algs)
	}
}

func TestCodeFlowRS256(t *testing.T) {
	e := start(t, "", "")
	r := e.rp("app", secretA, rpBase+"/callback")
	p := e.newPhone("小明")
	res := e.login(newBrowser(t), r, p)
	if !res.scanned {
		t.Fatal("a fresh browser signed in without scanning")
	}
	hdr := strings.SplitN(res.raw, ".", 2)[0]
	if !strings.Contains(decodeSeg(t, hdr), `"alg":"RS256"`) {
		t.Fatalf("header %s, want RS256", decodeSeg(t, hdr))
	}
	c := res.claims
	if c["sub"] != p.userID || c["iss"] != e.issuer() || c["name"] != "小明" || c["nickname"] != "小明" {
		t.Fatalf("claims %v", c)
	}
	if c["email"] != p.userID+"@wx.example.com" || c["email_verified"] != false {
		t.Fatalf("email claims %v %v", c["email"], c["email_verified"])
	}
	if sid, _ := c["sid"].(string); len(sid) != 32 {
		t.Fatalf("sid %v", c["sid"])
	}
	if _, ok := c["auth_time"].(float64); !ok {
		t.Fatalf("auth_time %v", c["auth_time"])
	}
	if _, ok := c["phone_number"]; ok {
		t.Fatalf("phone_number without a linked phone: %v", c["phone_number"])
	}
	for _, m := range []string{"GET", "POST"} {
		st, ui := e.userinfo(m, res.tok.AccessToken)
		if st != 200 || ui["sub"] != p.userID || ui["nickname"] != "小明" || ui["email_verified"] != false || ui["sid"] != c["sid"] {
			t.Fatalf("userinfo %s: %d %v", m, st, ui)
		}
	}
	// coreos/go-oidc's own UserInfo call.
	ui, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(res.tok))
	if err != nil || ui.Subject != p.userID {
		t.Fatalf("go-oidc userinfo: %v %v", ui, err)
	}
	if res.tok.RefreshToken != "" {
		t.Fatal("a refresh token without offline_access")
	}
	// The sign-in history has the redeem and the client's sign-in (the
	// engine writes it in the background).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ins, err := e.inst.Store.SignIns(context.Background(), p.userID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(ins, func(in scanlogin.SignIn) bool {
			return in.Kind == scanlogin.SignInOIDC && in.Client == "app" && in.SessionID == c["sid"]
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no OIDC sign-in in the history: %+v", ins)
		}
	}
}

func TestEdDSAClient(t *testing.T) {
	e := start(t, "", "")
	r := e.rp("ed", secretEd, rpBase+"/ed", oidc.EdDSA)
	p := e.newPhone("ed")
	e.linkPhone(p, "13800138000")
	res := e.login(newBrowser(t), r, p)
	if n, _ := res.claims["phone_number"].(string); !strings.Contains(n, "13800138000") || res.claims["phone_number_verified"] != true {
		t.Fatalf("phone claims %v %v", res.claims["phone_number"], res.claims["phone_number_verified"])
	}
	hdr := decodeSeg(t, strings.SplitN(res.raw, ".", 2)[0])
	if !strings.Contains(hdr, `"alg":"EdDSA"`) {
		t.Fatalf("header %s, want EdDSA", hdr)
	}
	// An RS256-only verifier refuses it: the algorithm is the client's.
	if _, err := r.provider.Verifier(&oidc.Config{ClientID: "ed", SupportedSigningAlgs: []string{oidc.RS256}}).Verify(r.ctx, res.raw); err == nil {
		t.Fatal("an EdDSA ID token passed an RS256-only verifier")
	}
	if _, ok := res.claims["email"]; ok {
		t.Fatal("email for a client without email_domain")
	}
}

func decodeSeg(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
