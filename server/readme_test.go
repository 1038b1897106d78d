package server_test

import (
	"os"
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestREADMEListsEveryRoute: README's API section names every path the
// server routes, so the table a newcomer reads is the whole API.
func TestREADMEListsEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## HTTP API")
	if start < 0 {
		t.Fatal(`README.md has no "## HTTP API" section`)
	}
	api := readme[start:]
	if end := strings.Index(api[3:], "\n## "); end >= 0 {
		api = api[:end+3]
	}
	inst := servertest.Start(t, servertest.Options{})
	for _, r := range inst.Server.Routes() {
		// Echo's :name becomes {name}; a wildcard is listed as its prefix.
		parts := strings.Split(r.Path, "/")
		for i, part := range parts {
			if strings.HasPrefix(part, ":") {
				parts[i] = "{" + part[1:] + "}"
			}
		}
		p := strings.TrimSuffix(strings.Join(parts, "/"), "*")
		if !strings.Contains(api, p) {
			t.Errorf("README.md's HTTP API section does not mention %s %s", r.Method, p)
		}
	}
}
