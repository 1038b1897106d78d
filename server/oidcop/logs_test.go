package oidcop_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/scanlogin/scanlogin/server/oidcop"
)

// TestNoSecretsInLogs runs a sign-in with everything that can go wrong
// around it, then searches every log line of the run (the server's, and
// the library's through slog's default logger; no redaction in between)
// for the codes, tokens, secrets and PKCE verifiers it used.
func TestNoSecretsInLogs(t *testing.T) {
	e, rc := startWithReceiver(t)
	r := e.rp("app", secretA, rpBase+"/callback")
	r.cfg.Scopes = append(r.cfg.Scopes, oidc.ScopeOfflineAccess)
	b := newBrowser(t)
	secrets := []string{secretA, secretEd}

	v := oauth2.GenerateVerifier()
	code := e.codeFor(b, r, e.newPhone("logs"), v)
	secrets = append(secrets, code, v)
	// A wrong secret and a wrong verifier first: they burn the code.
	e.postForm(oidcop.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpBase + "/callback"},
		"code_verifier": {v}}, "app", "wrong-secret-wrong-secret-wrong-secret!")
	if _, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption("x"+v)); err == nil {
		t.Fatal("a burnt code worked")
	}
	res := e.login(b, r, nil)
	secrets = append(secrets, res.tok.AccessToken, res.tok.RefreshToken, res.raw)
	tok2, err := r.refresh(res.tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok2.AccessToken, tok2.RefreshToken)
	e.userinfo("GET", tok2.AccessToken)
	e.clock.advance(2 * time.Minute)
	_, _ = r.refresh(res.tok.RefreshToken) // reuse: ends everything
	lt := rc.wait(t, 10*time.Second)
	secrets = append(secrets, lt)
	e.userinfo("GET", tok2.AccessToken)

	logs := allLogs.String()
	if !strings.Contains(logs, "oidc_sign_in") || !strings.Contains(logs, "refresh token") {
		t.Fatalf("the logs do not show the flow; is the capture broken?\n%s", logs[max(0, len(logs)-2000):])
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret")
		}
		if strings.Contains(logs, s) {
			t.Errorf("a secret of %d characters is in the logs", len(s))
		}
		// Halves too: a truncated secret is still a leak.
		if len(s) > 20 && strings.Contains(logs, s[:len(s)/2]) {
			t.Errorf("half a secret of %d characters is in the logs", len(s))
		}
	}
}
