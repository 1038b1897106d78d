package deploy

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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

// deploy/README.md's Redis restore, run on a real redis-server: a backup put
// in the data folder is what Redis holds once started as compose starts it.
// The script inside `docker compose run ... redis sh -c '...'` runs here as
// it is, with redis-server and redis-cli pointed at a private port.
func TestREADMERedisRestore(t *testing.T) {
	server, cli := tool(t, "redis-server"), tool(t, "redis-cli")
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	bin, data := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(bin, "redis-server"), []byte("#!/bin/sh\nexec "+server+" \"$@\" --port "+port+"\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "redis-cli"), []byte("#!/bin/sh\nexec "+cli+" -p "+port+" \"$@\"\n"), 0o755))
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	sh := func(script string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir, cmd.Env = data, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	// The data folder: an AOF of an older state (and its dump.rdb). The
	// backup: a dump.rdb holding one key, elsewhere.
	sh(`redis-server --appendonly yes --daemonize yes && until [ "$(redis-cli ping 2>/dev/null)" = PONG ]; do sleep 0.1; done && redis-cli set old 1 && redis-cli shutdown`)
	sh(`mkdir b && cd b && redis-server --appendonly no --save '' --daemonize yes && until [ "$(redis-cli ping 2>/dev/null)" = PONG ]; do sleep 0.1; done && redis-cli set restored yes && redis-cli save && redis-cli shutdown nosave`)
	backup := filepath.Join(data, "b", "dump.rdb")

	m := regexp.MustCompile(`(?s)docker compose run --rm --no-deps -v "[^"]*:/backup.rdb:ro" redis sh -c '(.*?)'\n`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("deploy/README.md's Redis restore has no `docker compose run --rm --no-deps -v \"...:/backup.rdb:ro\" redis sh -c '...'` step loading the backup")
	}
	sh(strings.ReplaceAll(string(m[1]), "/backup.rdb", backup))

	// Then Redis starts as docker-compose.yml starts it.
	c := readCompose(t).Services["redis"]
	cmd := exec.Command(server, append(c.Command[1:], "--port", port, "--dir", data)...)
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var got []byte
	for range 50 {
		if got, err = exec.Command(cli, "-p", port, "get", "restored").Output(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.TrimSpace(string(got)) != "yes" {
		t.Fatalf("after the restore Redis holds restored=%q, want the backup's \"yes\"", got)
	}
}
