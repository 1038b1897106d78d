//go:build !webfake

package web_test

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestFirefoxRunsTheWidget: Firefox (Debian's ESR, headless; no WebDriver is
// packaged for it, so this is a smoke test, not a driven flow) loads /, runs
// the page's and the widget's ES modules, creates a scene and shows its
// code: the server sees each of those requests come from Firefox.
func TestFirefoxRunsTheWidget(t *testing.T) {
	firefox, err := exec.LookPath("firefox-esr")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("firefox-esr not found and CI is set (.ci/run installs it)")
		}
		t.Skip("firefox-esr not found")
	}
	// A cold Firefox (its first start on a machine, reading everything from
	// disk) can reach the load event and exit before the widget has asked
	// for the code's image: one more start, on a fresh server and profile.
	var want map[string]bool
	for attempt := 1; attempt <= 2; attempt++ {
		if want = firefoxRun(t, firefox, attempt); want == nil {
			return
		}
		t.Logf("attempt %d: %v", attempt, want)
	}
	t.Fatalf("Firefox did not run the widget through: %v", want)
}

// firefoxRun loads / in Firefox once; nil when the server saw the scene
// created by Firefox and its image served, else what it saw.
func firefoxRun(t *testing.T, firefox string, attempt int) map[string]bool {
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	dir := t.TempDir()
	shot := filepath.Join(screenshotDir(t), fmt.Sprintf("firefox-%d-pending.png", attempt))
	cmd := exec.Command(firefox, "--headless", "--no-remote", "--profile", dir,
		"--window-size=1280,900", "--screenshot", shot, inst.URL+"/")
	cmd.Env = append(os.Environ(), "HOME="+dir, "MOZ_CRASHREPORTER_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("firefox: %v\n%s", err, out)
	}

	// The shot is taken at the load event; the widget's requests may still
	// be arriving.
	want := map[string]bool{"created by Firefox": false, "code image shown": false}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range logs.JSONLines() {
			if l["msg"] == "audit" && l["action"] == "create" && l["outcome"] == "ok" &&
				strings.Contains(l["user_agent"].(string), "Firefox/") {
				want["created by Firefox"] = true
			}
			if l["msg"] == "http request" && l["route"] == "/api/v1/qr/:scene/image" && l["status"] == float64(200) {
				want["code image shown"] = true
			}
		}
		if want["created by Firefox"] && want["code image shown"] {
			t.Logf("screenshot (taken at load): %s", shot)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return want
}
