package wxapi_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// Nothing secret reaches the log or error texts: not the AppSecret, codes,
// access tokens or session keys, whatever happens.
func TestNothingSecretLogged(t *testing.T) {
	e := setup(t, func(_ *wxfake.Options, c *wxapi.Config) { c.Timeout = 150 * time.Millisecond })
	ctx := t.Context()
	secrets := []string{e.fake.Secret()}
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	code, _ := e.fake.MintCode(ctx, "oSecretive", "")
	secrets = append(secrets, code)
	s, err := e.cl.Code2Session(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, s.SessionKey)
	_, err = e.cl.Code2Session(ctx, code) // 40163
	keep(err)
	tok, _ := e.cl.AccessToken(ctx)
	secrets = append(secrets, tok)
	keep(e.cl.CheckSessionKey(ctx, s.OpenID, s.SessionKey))
	keep(e.cl.CheckSessionKey(ctx, s.OpenID, "tiihtNczf5v6AKRyjwEUhQ==")) // 87009
	pc, _ := e.fake.MintPhoneCode(ctx, "oSecretive", "13800138000")
	secrets = append(secrets, pc)
	e.fake.Inject(wxfake.APIPhoneNumber, wxfake.Fault{Errcode: 40001, Times: 1})
	_, err = e.cl.PhoneNumber(ctx, pc)
	keep(err)
	e.fake.Inject(wxfake.APIPhoneNumber, wxfake.Fault{Hang: true})
	pc2, _ := e.fake.MintPhoneCode(ctx, "oSecretive", "13800138000")
	secrets = append(secrets, pc2)
	_, err = e.cl.PhoneNumber(ctx, pc2)
	keep(err)
	e.fake.Inject(wxfake.APICode2Session, wxfake.Fault{Errcode: -1})
	_, err = e.cl.Code2Session(ctx, code)
	keep(err)
	_, err = e.cl.DecryptUserData(s.SessionKey, "AAAA", "AAAA")
	keep(err)
	e.fake.ClearFaults()
	e.fake.ExpireTokens()
	_, _, err = e.cl.UnlimitedQRCode(ctx, "s", "", "", false, 0)
	keep(err)
	tok2, _ := e.cl.AccessToken(ctx)
	secrets = append(secrets, tok2)
	e.srv.Close()
	_, err = e.cl.Code2Session(ctx, code)
	keep(err)

	logs := e.logs.String()
	if !strings.Contains(logs, "wx_errcode") {
		t.Fatalf("expected some logging, got %q", logs)
	}
	var texts []string
	for _, err := range errs {
		texts = append(texts, err.Error())
	}
	all := logs + strings.Join(texts, "\n")
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("secret %.6s... appears in logs or errors:\n%s", s, all)
		}
	}
}

// wxapi stands alone: it imports nothing of scanlogin or the server.
func TestImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/scanlogin/scanlogin/wxapi", "github.com/scanlogin/scanlogin/wxapi/wxfake").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/scanlogin/scanlogin/") && !strings.HasPrefix(dep, "github.com/scanlogin/scanlogin/wxapi") {
			t.Errorf("wxapi depends on %s", dep)
		}
		if strings.Contains(dep, "labstack/echo") {
			t.Errorf("wxapi depends on %s", dep)
		}
	}
}
