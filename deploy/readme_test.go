package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
)

// Every SCANLOGIN_ variable the server reads has a row in README.md's
// configuration table.
func TestREADMEConfigurationCoversEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variablesReadByServer(t) {
		if !regexp.MustCompile("(?m)^\\|[^\\n]*`" + v + "`[^\\n]*\\|").Match(readme) {
			t.Errorf("README.md's configuration table has no row for %s", v)
		}
	}
}

// Each example of deploy/README.md's SCANLOGIN_REDIS_URL table gives the
// Redis servers that hold the data its password ("password"). In a Sentinel
// URL go-redis sends the user:pass@ part to the Sentinels only, so an
// example with the password there left the master unauthenticated (NOAUTH:
// no replica ever became ready).
func TestREADMERedisURLsAuthenticateToRedis(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{"one server", "Sentinel", "Cluster"} {
		m := regexp.MustCompile("(?m)^\\| " + form + " \\| `([^`]+)`").FindSubmatch(readme)
		if m == nil {
			t.Errorf("deploy/README.md has no %s example", form)
			continue
		}
		c, err := app.OpenRedis(string(m[1]))
		if err != nil {
			t.Errorf("%s: %s: %v", form, m[1], err)
			continue
		}
		var password string
		switch c := c.(type) {
		case *redis.Client: // one server, and the master behind Sentinels
			password = c.Options().Password
		case *redis.ClusterClient:
			password = c.Options().Password
		}
		if password != "password" {
			t.Errorf("%s: %s: Redis gets password %q, want the example's \"password\"", form, m[1], password)
		}
		_ = c.Close()
	}
}

// A `docker compose run --no-deps` starts no dependency and waits for none:
// the `docker compose up` before it must wait until they are healthy (a
// fresh PostgreSQL initialises for seconds before it takes connections,
// and migrate-redis does not retry).
func TestREADMERunWaitsForItsDependencies(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := regexp.MustCompile(`\n+`).Split(string(readme), -1)
	found := false
	for i := 1; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "docker compose run") || !strings.Contains(lines[i], "--no-deps") || !strings.HasPrefix(lines[i-1], "docker compose up") {
			continue
		}
		found = true
		if !strings.Contains(lines[i-1], "--wait") {
			t.Errorf("%q runs right after %q, which does not wait for healthy services (--wait)", lines[i], lines[i-1])
		}
	}
	if !found {
		t.Error("deploy/README.md has no `docker compose up` followed by `docker compose run --no-deps` (the upgrade from a Redis-only version)")
	}
}
