package web_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server/oidcop"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// oauth2ProxyModule is the oauth2-proxy the test builds from its Go module
// (docs/OIDC.md#oauth2-proxy lists the same flags).
const oauth2ProxyModule = "github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6"

// oauth2ProxyBinary builds oauth2-proxy once into the user's cache folder
// and reuses it on later runs (about 90 s on two cores the first time).
func oauth2ProxyBinary(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "scanlogin-test-bin", strings.NewReplacer("/", "_", "@", "_").Replace(oauth2ProxyModule))
	exe := filepath.Join(dir, "oauth2-proxy")
	if fi, err := os.Stat(exe); err == nil && fi.Mode().IsRegular() {
		return exe
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil && os.MkdirAll(filepath.Dir(dir), 0o755) == nil {
		tmp, err = os.MkdirTemp(filepath.Dir(dir), "build-")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", oauth2ProxyModule)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("building oauth2-proxy from its module (go install %s): %v\n%s", oauth2ProxyModule, err, out)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, "oauth2-proxy"), exe); err != nil && !fileExists(exe) {
		t.Fatal(err)
	}
	return exe
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestOAuth2ProxyProtectsAnUpstream puts oauth2-proxy, configured only by
// its documented flags, in front of an upstream and signs in through
// scanlogin in headless Chromium: the protected URL lands on the scan page,
// the phone scans and confirms, and the upstream receives the request with
// the user's identity.
func TestOAuth2ProxyProtectsAnUpstream(t *testing.T) {
	exe := oauth2ProxyBinary(t)
	chromium(t)

	type seen struct{ user, email string }
	var mu sync.Mutex
	var got []seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Header.Get("X-Forwarded-User"), r.Header.Get("X-Forwarded-Email")})
		mu.Unlock()
		fmt.Fprintf(w, "<!doctype html><title>upstream</title><p id=who>%s|%s</p>", r.Header.Get("X-Forwarded-User"), r.Header.Get("X-Forwarded-Email"))
	}))
	defer upstream.Close()

	port := freePort(t)
	proxyURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	secret := "oauth2-proxy-client-secret-0123456789abcdef"
	inst := servertest.Start(t, servertest.Options{Config: &app.Config{OIDCClients: []oidcop.ClientConfig{{
		ID: "oauth2-proxy", Secret: secret, RedirectURIs: []string{proxyURL + "/oauth2/callback"},
		EmailDomain: "wechat.example.com",
	}}}})
	issuer := inst.App.Config.Issuer

	var cookieSecret [32]byte
	_, _ = rand.Read(cookieSecret[:])
	logs := &servertest.LogBuffer{}
	cmd := exec.Command(exe,
		"--http-address=127.0.0.1:"+fmt.Sprint(port),
		"--provider=oidc",
		"--provider-display-name=WeChat",
		"--oidc-issuer-url="+issuer,
		"--client-id=oauth2-proxy",
		"--client-secret="+secret,
		"--redirect-url="+proxyURL+"/oauth2/callback",
		"--upstream="+upstream.URL+"/",
		"--email-domain=*",
		"--scope=openid profile email",
		"--code-challenge-method=S256",
		"--insecure-oidc-allow-unverified-email=true",
		"--cookie-secret="+base64.RawURLEncoding.EncodeToString(cookieSecret[:]),
		"--cookie-secure=false",
		"--skip-provider-button=true",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("oauth2-proxy output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(proxyURL + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauth2-proxy did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	b := newBrowser(t)
	b.navigate(proxyURL + "/private/page")
	// The protected URL led to scanlogin's scan page.
	b.wait("scan page", `location.pathname === '/' && new URLSearchParams(location.search).has('oidc')`, 20*time.Second)
	scene := b.widgetState("#scanlogin", "pending", 20*time.Second)
	p := newPhone(t, inst.URL, "oProxy0000000000000000000001", "代理用户")
	p.scan(scene)
	p.confirm(scene)
	// Several navigations follow one another (scanlogin, oauth2-proxy's
	// callback, the upstream): poll across them.
	waitAcross(t, b, `document.title === 'upstream'`, 30*time.Second)
	b.shot("oauth2-proxy-upstream")
	who := b.str(`document.getElementById('who').textContent`)
	wantEmail := p.userID + "@wechat.example.com"
	if !strings.HasSuffix(who, "|"+wantEmail) || b.str(`location.href`) != proxyURL+"/private/page" {
		t.Fatalf("upstream saw %q at %s, want email %s", who, b.str(`location.href`), wantEmail)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[len(got)-1].email != wantEmail || got[len(got)-1].user == "" {
		t.Fatalf("upstream requests %+v", got)
	}
	t.Logf("upstream: X-Forwarded-User %q, X-Forwarded-Email %q", got[len(got)-1].user, got[len(got)-1].email)
}
