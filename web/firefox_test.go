//go:build !webfake

package web_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestFirefoxRunsTheWidget: a whole login in Firefox (Debian's ESR,
// headless, driven over WebDriver BiDi): the login page and the widget's ES
// modules run, the code image shows, the phone scans (it is told the
// browser's label) and confirms, and the page shows the signed-in user. The
// server saw the scene created and redeemed by Firefox. Every wait is for a
// condition in the page, never for a time.
func TestFirefoxRunsTheWidget(t *testing.T) {
	path, err := exec.LookPath("firefox-esr")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("firefox-esr not found and CI is set (.ci/run installs it)")
		}
		t.Skip("firefox-esr not found: install Debian's firefox-esr to run the Firefox test")
	}
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	ff := startFirefox(t, path)
	ff.call("browsingContext.setViewport", map[string]any{"context": ff.context, "viewport": map[string]int{"width": 1280, "height": 900}})

	ff.navigate(inst.URL + "/")
	// The widget has a scene and its code image has loaded and is shown.
	var shown struct {
		Scene string
		Width int
	}
	got := ff.waitFor("the code image", `(() => {
  const el = document.querySelector('#scanlogin');
  const img = el && el.shadowRoot && el.shadowRoot.querySelector('img.qr');
  return el && el.dataset.state === 'pending' && img && img.complete && img.naturalWidth > 0 &&
    { scene: el.dataset.scene, width: img.naturalWidth };
})()`, 60*time.Second)
	if err := json.Unmarshal([]byte(got), &shown); err != nil || !sceneRE.MatchString(shown.Scene) {
		t.Fatalf("widget showed %s (%v)", got, err)
	}
	ff.screenshot(filepath.Join(screenshotDir(t), "firefox-1-pending.png"))

	phone := newPhone(t, inst.URL, "ff-fay", "Fay")
	var scan struct {
		Browser struct {
			UserAgent string `json:"user_agent"`
			Label     string `json:"label"`
		} `json:"browser"`
	}
	phone.call("POST", "/api/v1/qr/"+shown.Scene+"/scan", map[string]any{}, http.StatusOK, &scan)
	if !regexp.MustCompile(`^Firefox \d+ · Linux$`).MatchString(scan.Browser.Label) {
		t.Errorf("the phone is told the browser is %q (user agent %q)", scan.Browser.Label, scan.Browser.UserAgent)
	}
	ff.waitFor("the scanned state", `document.querySelector('#scanlogin').dataset.state === 'scanned'`, 30*time.Second)
	phone.confirm(shown.Scene)
	ff.waitFor("the signed-in page", `document.body.dataset.view === 'user' && document.querySelector('#user-name').textContent === 'Fay'`, 30*time.Second)
	ff.screenshot(filepath.Join(screenshotDir(t), "firefox-2-signed-in.png"))

	// The server saw Firefox create the scene and redeem it.
	for _, action := range []string{"create", "redeem"} {
		found := false
		for _, l := range logs.JSONLines() {
			ua, _ := l["user_agent"].(string)
			if l["msg"] == "audit" && l["action"] == action && l["outcome"] == "ok" && strings.Contains(ua, "Firefox/") {
				found = true
			}
		}
		if !found {
			t.Errorf("no audit line for %s by Firefox", action)
		}
	}
}
