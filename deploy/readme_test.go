package deploy

import (
	"os"
	"regexp"
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
