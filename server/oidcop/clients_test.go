package oidcop_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server/oidcop"
	"github.com/scanlogin/scanlogin/server/servertest"
)

const goodClients = `
clients:
  - id: grafana
    secret: "at-least-32-characters-long-secret-0001"
    redirect_uris: ["https://grafana.example.com/login/generic_oauth"]
    post_logout_redirect_uris: ["https://grafana.example.com/login"]
    backchannel_logout_uri: "https://grafana.example.com/logout/backchannel"
    id_token_signed_response_alg: RS256
    email_domain: wechat.example.com
  - id: spa
    public: true
    redirect_uris: ["http://localhost:5173/callback"]
    id_token_signed_response_alg: EdDSA
`

func TestParseClients(t *testing.T) {
	cs, err := oidcop.ParseClients([]byte(goodClients))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].IDTokenAlg != "RS256" || cs[1].IDTokenAlg != "EdDSA" || !cs[1].Public {
		t.Fatalf("%+v", cs)
	}
	if s := cs[0].String(); strings.Contains(s, cs[0].Secret) {
		t.Fatal("String shows the secret")
	}
	for _, c := range []struct{ yaml, want string }{
		{`clients: [{id: a, secret: short, redirect_uris: ["https://a.example/cb"]}]`, `clients[0] (id "a"): secret: must be at least 32`},
		{`clients: [{id: a, public: true, secret: "0123456789012345678901234567890123", redirect_uris: ["https://a.example/cb"]}]`, `clients[0] (id "a"): secret: a public client has no secret`},
		{`clients: [{id: a, public: true}]`, `clients[0] (id "a"): redirect_uris: at least one`},
		{`clients: [{id: a, public: true, redirect_uris: ["http://a.example/cb"]}]`, `clients[0] (id "a"): redirect_uris[0]: plain http only for localhost`},
		{`clients: [{id: a, public: true, redirect_uris: ["https://a.example/cb#x"]}]`, `redirect_uris[0]: must not have a fragment`},
		{`clients: [{id: a, public: true, redirect_uris: ["https://a.example/cb"], post_logout_redirect_uris: ["/relative"]}]`, `post_logout_redirect_uris[0]: want an absolute URL`},
		{`clients: [{id: a, public: true, redirect_uris: ["https://a.example/cb"], backchannel_logout_uri: "ftp://x"}]`, `backchannel_logout_uri: want https`},
		{`clients: [{id: a, public: true, redirect_uris: ["https://a.example/cb"], id_token_signed_response_alg: HS256}]`, `id_token_signed_response_alg: want RS256 or EdDSA`},
		{`clients: [{id: a, public: true, redirect_uris: ["https://a.example/cb"], email_domain: "not a domain"}]`, `email_domain: want a domain name`},
		{`clients: [{public: true, redirect_uris: ["https://a.example/cb"]}]`, `clients[0]: id: required`},
		{`clients: [{id: a, public: true, redirect_uris: ["https://a.example/cb"]}, {id: a, public: true, redirect_uris: ["https://a.example/cb"]}]`, `clients[1] (id "a"): id: used by an earlier client`},
		{`clients: [{id: a, public: true, redirect_uri: ["https://a.example/cb"]}]`, `field redirect_uri not found`},
		{`clients: [{id: scanlogin-web, public: true, redirect_uris: ["https://a.example/cb"]}]`, `id: reserved`},
	} {
		_, err := oidcop.ParseClients([]byte(c.yaml), "scanlogin-web")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n  got %v\n  want %q", c.yaml, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789012345678901234567890123") {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}

func TestReloadClients(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "clients.yaml")
	write := func(s string) {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`clients: [{id: one, public: true, redirect_uris: ["http://127.0.0.1:9/one"]}]`)
	cs, err := app.LoadOIDCClients(f, "")
	if err != nil {
		t.Fatal(err)
	}
	inst := servertest.Start(t, servertest.Options{Config: &app.Config{OIDCClientsFile: f, OIDCClients: cs}})
	has := func(id string) bool { _, ok := inst.App.OIDC.Client(id); return ok }
	if !has("one") || !has("scanlogin-demo") {
		t.Fatal("clients at start")
	}
	write(`clients: [{id: two, secret: short, redirect_uris: ["http://127.0.0.1:9/two"]}]`)
	err = inst.App.ReloadOIDCClients()
	if err == nil || !strings.Contains(err.Error(), `SCANLOGIN_OIDC_CLIENTS_FILE: clients[0] (id "two"): secret`) {
		t.Fatalf("bad file: %v", err)
	}
	if !has("one") || has("two") {
		t.Fatal("a bad file replaced the clients")
	}
	write(`clients: [{id: two, public: true, redirect_uris: ["http://127.0.0.1:9/two"]}]`)
	if err := inst.App.ReloadOIDCClients(); err != nil {
		t.Fatal(err)
	}
	if has("one") || !has("two") || !has("scanlogin-demo") {
		t.Fatal("the good file was not taken")
	}
}
