package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// longestPoll is the longest a server holds a poll (docs/ARCHITECTURE.md#waiting: wait max 30 s).
const longestPoll = 30 * time.Second

type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		EnvFile     any               `yaml:"env_file"`
		Volumes     []string          `yaml:"volumes"`
		Secrets     []string          `yaml:"secrets"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		StopGracePeriod string `yaml:"stop_grace_period"`
		Networks        any    `yaml:"networks"`
		Build           *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

func readCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	return c
}

func TestComposeServices(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"redis", "postgres", "scanlogin-1", "scanlogin-2", "caddy"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("service %q missing; have %v", name, keys(c.Services))
		}
	}

	redis := c.Services["redis"]
	cmd := strings.Join(redis.Command, " ")
	for _, want := range []string{"--appendonly yes", "--maxmemory-policy noeviction"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command %q lacks %q", cmd, want)
		}
	}
	if redis.Healthcheck == nil || !slices.Contains(redis.Healthcheck.Test, "ping") {
		t.Errorf("redis has no ping healthcheck")
	}
	if len(redis.Volumes) == 0 {
		t.Fatalf("redis has no volume")
	}
	vol, _, _ := strings.Cut(redis.Volumes[0], ":")
	if _, ok := c.Volumes[vol]; !ok {
		t.Errorf("redis data volume %q is not a named volume", vol)
	}

	pg := c.Services["postgres"]
	if pg.Healthcheck == nil || !slices.Contains(pg.Healthcheck.Test, "pg_isready") {
		t.Errorf("postgres has no pg_isready healthcheck")
	} else if i := slices.Index(pg.Healthcheck.Test, "-h"); i < 0 || i+1 == len(pg.Healthcheck.Test) || pg.Healthcheck.Test[i+1] != "127.0.0.1" {
		// The image's first-start initialisation runs a server on the unix
		// socket only: checked there, PostgreSQL looks ready before the
		// replicas can reach it over the network.
		t.Errorf("postgres's healthcheck %q does not ask over TCP (-h 127.0.0.1)", pg.Healthcheck.Test)
	}
	if len(pg.Volumes) == 0 || !strings.HasSuffix(pg.Volumes[0], ":/var/lib/postgresql/data") {
		t.Fatalf("postgres keeps its data in no volume: %v", pg.Volumes)
	}
	if vol, _, _ := strings.Cut(pg.Volumes[0], ":"); !slices.Contains(keys(c.Volumes), vol) {
		t.Errorf("postgres data volume %q is not a named volume", vol)
	}

	for _, name := range []string{"scanlogin-1", "scanlogin-2"} {
		s := c.Services[name]
		if s.DependsOn["postgres"].Condition != "service_healthy" {
			t.Errorf("%s: does not wait for a healthy postgres", name)
		}
		if s.Environment["SCANLOGIN_DATABASE_URL_FILE"] == "" {
			t.Errorf("%s: no SCANLOGIN_DATABASE_URL_FILE", name)
		}
		if s.Healthcheck == nil || !slices.Contains(s.Healthcheck.Test, "healthcheck") {
			t.Errorf("%s: no healthcheck running the binary's own check", name)
		}
		if s.DependsOn["redis"].Condition != "service_healthy" {
			t.Errorf("%s: does not wait for a healthy redis", name)
		}
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("%s: not built from deploy/Dockerfile", name)
		}
		if s.Environment["SCANLOGIN_REDIS_URL"] == "" {
			t.Errorf("%s: no SCANLOGIN_REDIS_URL", name)
		}
		grace, err := time.ParseDuration(s.StopGracePeriod)
		if err != nil || grace < 10*time.Second {
			t.Errorf("%s: stop_grace_period %q leaves waiting polls too little time", name, s.StopGracePeriod)
		}
		// Secrets come in as files, never as plain variables in compose.
		for k, v := range s.Environment {
			if strings.HasSuffix(k, "_FILE") {
				if !strings.HasPrefix(v, "/run/secrets/") {
					t.Errorf("%s: %s=%q is not a compose secret", name, k, v)
				}
				if _, ok := c.Secrets[strings.TrimPrefix(v, "/run/secrets/")]; !ok {
					t.Errorf("%s: %s names secret %q that is not declared", name, k, v)
				}
			}
		}
	}

	caddy := c.Services["caddy"]
	for _, name := range []string{"scanlogin-1", "scanlogin-2"} {
		if caddy.DependsOn[name].Condition != "service_healthy" {
			t.Errorf("caddy does not wait for a healthy %s", name)
		}
	}
	if !strings.HasPrefix(caddy.Image, "caddy:") {
		t.Errorf("proxy image %q is not the official caddy image", caddy.Image)
	}
}

// The replicas must trust X-Forwarded-For from the proxy's address, and from
// nothing else.
func TestTrustedProxyIsTheProxy(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Replicas list their networks as a sequence and the proxy as a mapping,
	// so walk the node tree rather than decode into one struct.
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	caddyIP := findScalar(&doc, "services", "caddy", "networks", "backend", "ipv4_address")
	if caddyIP == "" {
		t.Fatal("caddy has no fixed ipv4_address on the backend network")
	}
	for _, name := range []string{"scanlogin-1", "scanlogin-2"} {
		got := findScalar(&doc, "services", name, "environment", "SCANLOGIN_TRUSTED_PROXIES")
		if got != caddyIP+"/32" {
			t.Errorf("%s trusts %q, want exactly the proxy %s/32", name, got, caddyIP)
		}
	}
}

func findScalar(n *yaml.Node, path ...string) string {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return findScalar(n.Content[0], path...)
	}
	if n.Kind == yaml.AliasNode {
		return findScalar(n.Alias, path...)
	}
	if len(path) == 0 {
		return n.Value
	}
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" { // merge key
			if got := findScalar(v, path...); got != "" {
				return got
			}
		}
		if k.Value == path[0] {
			return findScalar(v, path[1:]...)
		}
	}
	return ""
}

func TestCaddyTimeoutsExceedLongestPoll(t *testing.T) {
	b, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, directive := range []string{"read_timeout", "write_timeout"} {
		m := regexp.MustCompile(`(?m)^\s*` + directive + `\s+(\S+)`).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("Caddyfile sets no %s", directive)
			continue
		}
		d, err := time.ParseDuration(m[1])
		if err != nil {
			t.Errorf("%s %q: %v", directive, m[1], err)
			continue
		}
		if d <= longestPoll+5*time.Second {
			t.Errorf("%s %v does not leave room above the longest poll %v", directive, d, longestPoll)
		}
	}
	for _, upstream := range []string{"scanlogin-1:8080", "scanlogin-2:8080"} {
		if !strings.Contains(text, upstream) {
			t.Errorf("Caddyfile does not balance to %s", upstream)
		}
	}
	if !strings.Contains(text, "health_uri /readyz") {
		t.Error("Caddyfile does not health-check /readyz, so a draining replica keeps getting traffic")
	}
}

// Every SCANLOGIN_ variable the server reads is documented in .env.example.
func TestEnvExampleCoversEveryVariable(t *testing.T) {
	example, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	read := variablesReadByServer(t)
	if len(read) < 10 {
		t.Fatalf("found only %d SCANLOGIN_ variables in the server's code: %v", len(read), read)
	}
	for _, v := range read {
		if !regexp.MustCompile(`(?m)^#?\s*` + v + `=`).Match(example) {
			t.Errorf(".env.example does not list %s", v)
		}
	}
}

// docker-compose.yml's environment: for the replicas overrides .env, so a
// variable it sets is ignored in .env. .env.example says which, so that an
// operator changes them (the signing keys when rotating, say) where they
// take effect.
func TestEnvExampleNamesWhatComposeOverrides(t *testing.T) {
	example, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	// The comment paragraph that says so.
	var note string
	for _, para := range strings.Split(string(example), "\n\n") {
		if strings.Contains(para, "docker-compose.yml") && strings.Contains(para, "override") {
			note = para
		}
	}
	if note == "" {
		t.Fatal(".env.example does not say that docker-compose.yml's environment overrides .env")
	}
	for name := range readCompose(t).Services["scanlogin-1"].Environment {
		if !regexp.MustCompile(`\b` + name + `\b`).MatchString(note) {
			t.Errorf("docker-compose.yml sets %s, which .env cannot change, and .env.example's note does not name it", name)
		}
	}
}

// variablesReadByServer lists the SCANLOGIN_ names that appear as string
// literals in the binary's and the server's non-test Go files.
func variablesReadByServer(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`"(SCANLOGIN_[A-Z0-9_]+)"`)
	seen := map[string]bool{}
	for _, dir := range []string{"../cmd/scanlogin", "../server"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllSubmatch(b, -1) {
				seen[string(m[1])] = true
			}
		}
	}
	out := keys(seen)
	slices.Sort(out)
	return out
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if n := len(regexp.MustCompile(`(?m)^FROM `).FindAllString(text, -1)); n < 2 {
		t.Errorf("Dockerfile has %d stages, want a multi-stage build", n)
	}
	for _, want := range []string{"HEALTHCHECK", "ARG VERSION", "CGO_ENABLED=0", "distroless/static"} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(text)
	if user == nil || strings.HasPrefix(user[1], "root") || strings.HasPrefix(user[1], "0") {
		t.Errorf("runtime user %v is not a non-root user", user)
	}
}

// The Dockerfile copies the whole build context (the repository root):
// .dockerignore keeps out what setup.sh writes and the demo's database, so
// no key or password lands in a build layer or the build cache.
func TestDockerBuildContextLeavesOutSecrets(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatalf("no .dockerignore at the build context's root: %v", err)
	}
	var patterns []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	// A pattern excludes a path when it matches the path or a folder above
	// it (Docker's rule, without ** and ! which these paths do not need).
	ignored := func(path string) bool {
		parts := strings.Split(path, "/")
		for i := range parts {
			for _, p := range patterns {
				if ok, _ := filepath.Match(p, strings.Join(parts[:i+1], "/")); ok {
					return true
				}
			}
		}
		return false
	}
	paths := []string{"deploy/.env", ".scanlogin/scanlogin.db"}
	for _, s := range readCompose(t).Secrets {
		paths = append(paths, filepath.ToSlash(filepath.Join("deploy", s.File)))
	}
	for _, p := range paths {
		if !ignored(p) {
			t.Errorf("the image build copies %s: .dockerignore does not leave it out", p)
		}
	}
	for _, p := range []string{"go.mod", "cmd/scanlogin/main.go", "web/static/index.html", "scanlogin/sqlstore/migrations/x.sql"} {
		if ignored(p) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", p)
		}
	}
}

// The Dockerfile's own go build line, run here, yields a static binary that
// reports the version it was built with.
func TestDockerfileBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN go build (.+) -o \S+ (\./cmd/scanlogin)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("no `RUN go build ... -o ... ./cmd/scanlogin` line in the Dockerfile")
	}
	flags := strings.ReplaceAll(m[1], "${VERSION}", "9.9.9-test")
	out := filepath.Join(t.TempDir(), "scanlogin")
	args := append([]string{"build"}, splitFlags(flags)...)
	args = append(args, "-o", out, m[2])
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links %v", libs)
	}
	v, err := exec.Command(out, "version").CombinedOutput()
	if err != nil || !bytes.Contains(v, []byte("9.9.9-test")) {
		t.Errorf("`scanlogin version` = %q, %v; want the build's version", v, err)
	}
}

// splitFlags splits a shell word list with simple "double" quoting, enough
// for the Dockerfile's build line.
func splitFlags(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any || cur.Len() > 0 {
				out = append(out, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteRune(r)
		}
	}
	if any || cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func keys[M ~map[K]V, K comparable, V any](m M) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// tool finds a command the test needs: a skip on a developer's machine
// without it, a failure in CI (which installs it).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found and CI is set (.ci/run installs it)", name)
		}
		t.Skipf("%s not found", name)
	}
	return p
}

// docker-compose (the Debian package) validates the file against the compose
// schema without a Docker engine.
func TestComposeValidatesWithDockerCompose(t *testing.T) {
	bin := tool(t, "docker-compose")
	dir := t.TempDir()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "docker-compose.yml"), b, 0o644))
	example, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, ".env"), example, 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o755))
	for _, s := range readCompose(t).Secrets {
		must(t, os.WriteFile(filepath.Join(dir, s.File), []byte("x"), 0o600))
	}
	cmd := exec.Command(bin, "config", "-q")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
}

// caddy validate loads and provisions the config without serving it.
func TestCaddyfileValidates(t *testing.T) {
	bin := tool(t, "caddy")
	cmd := exec.Command(bin, "validate", "--config", "Caddyfile", "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "SCANLOGIN_DOMAIN=login.example.com", "HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate: %v\n%s", err, out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// What setup.sh writes (.env and every secret the compose file mounts)
// lives in the checkout, so git must ignore it: a commit of the deploy
// folder would otherwise publish the signing key, the session-key secret,
// the database password and the AppSecret.
func TestSetupOutputIsIgnoredByGit(t *testing.T) {
	bin := tool(t, "git")
	if err := exec.Command(bin, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		t.Skip("not a git checkout")
	}
	paths := []string{".env"}
	for _, s := range readCompose(t).Secrets {
		paths = append(paths, s.File)
	}
	for _, p := range paths {
		// --no-index: a file someone already added is still checked.
		if err := exec.Command(bin, "check-ignore", "-q", "--no-index", p).Run(); err != nil {
			t.Errorf("git does not ignore deploy/%s (written by setup.sh): %v", filepath.Clean(p), err)
		}
	}
}

// setup.sh creates .env and every secret the compose file mounts, with a
// signing key the server can load, and leaves existing files alone.
func TestSetupScript(t *testing.T) {
	tool(t, "openssl")
	dir := t.TempDir()
	for _, f := range []string{"setup.sh", ".env.example", "docker-compose.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		must(t, os.WriteFile(filepath.Join(dir, f), b, 0o755))
	}
	run := func() {
		t.Helper()
		if out, err := exec.Command("sh", filepath.Join(dir, "setup.sh")).CombinedOutput(); err != nil {
			t.Fatalf("setup.sh: %v\n%s", err, out)
		}
	}
	run()
	for _, s := range readCompose(t).Secrets {
		st, err := os.Stat(filepath.Join(dir, s.File))
		if err != nil {
			t.Fatalf("setup.sh did not create %s: %v", s.File, err)
		}
		if st.Mode().Perm()&0o004 == 0 {
			t.Errorf("%s is %v: the non-root container user cannot read it", s.File, st.Mode())
		}
	}
	st, err := os.Stat(filepath.Join(dir, "secrets"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("secrets folder mode = %v, %v; want 0700", st.Mode(), err)
	}
	key := filepath.Join(dir, "secrets", "signing_key.pem")
	first, _ := os.ReadFile(key)
	if out, err := exec.Command("openssl", "pkey", "-in", key, "-noout", "-text").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("ED25519")) {
		t.Fatalf("signing key is not an Ed25519 key: %v\n%s", err, out)
	}
	dbURL, _ := os.ReadFile(filepath.Join(dir, "secrets", "database_url"))
	pgPassword, _ := os.ReadFile(filepath.Join(dir, "secrets", "postgres_password"))
	if want := "postgres://scanlogin:" + strings.TrimSpace(string(pgPassword)) + "@postgres:5432/scanlogin?sslmode=disable\n"; len(pgPassword) < 32 || string(dbURL) != want {
		t.Errorf("database_url = %q, want %q", dbURL, want)
	}
	hexKey, _ := os.ReadFile(filepath.Join(dir, "secrets", "session_key_secret"))
	if !regexp.MustCompile(`^[0-9a-f]{64}\n?$`).Match(hexKey) {
		t.Errorf("session_key_secret = %q, want 64 hex characters", hexKey)
	}
	run() // again: nothing is replaced
	again, _ := os.ReadFile(key)
	if !bytes.Equal(first, again) {
		t.Error("a second run replaced the signing key")
	}
}
