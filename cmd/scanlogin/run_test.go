package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server/servertest"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/server"
)

var openURL = regexp.MustCompile(`open (http://[^\s/]+)/`)

// startRun calls run as main would, with env, and returns the base URL once
// /healthz answers, the cancel that stops it, and its result channel.
func startRun(t *testing.T, env map[string]string) (string, *servertest.LogBuffer, context.CancelFunc, chan error) {
	t.Helper()
	stdout, stderr := &servertest.LogBuffer{}, &servertest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	// done gives the test run's result; the cleanup waits for the return
	// without taking the result from the test.
	done := make(chan error, 1)
	returned := make(chan struct{})
	go func() {
		err := run(ctx, []string{"scanlogin"}, func(k string) string { return env[k] }, stdout, stderr)
		result <- err
		close(returned)
	}()
	go func() { done <- <-result }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := openURL.FindStringSubmatch(stdout.String()); m != nil {
			resp, err := http.Get(m[1] + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return m[1], stderr, cancel, done
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\nstderr: %s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no healthy server; stdout %q stderr %q", stdout.String(), stderr.String())
	return "", nil, nil, nil
}

func post(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func get(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

// waitingPolls waits until the server's scanlogin_waiting_polls gauge is
// want.
func waitingPolls(t *testing.T, base, want string) {
	t.Helper()
	got := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "scanlogin_waiting_polls "); ok {
				got = strings.TrimSpace(v)
			}
		}
		if got == want {
			return
		}
	}
	t.Fatalf("waiting polls: %q, want %s", got, want)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL, err)
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// TestRunShutsDownCleanly: run on real Redis, polls waiting, then the
// context ends (SIGTERM in main): readyz fails, every poll gets a 200 with
// its current state (no reset), run returns nil within a few seconds.
func TestRunShutsDownCleanly(t *testing.T) {
	rs := scanlogintest.Start(t)
	base, stderr, cancel, done := startRun(t, map[string]string{
		"SCANLOGIN_ADDR":      "127.0.0.1:0",
		"SCANLOGIN_REDIS_URL": rs.URL(),
		"SCANLOGIN_DATA_DIR":  t.TempDir(),
		"SCANLOGIN_LOG_LEVEL": "debug",
	})
	if code, _ := get(t, base+"/readyz", ""); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	addr := strings.TrimPrefix(base, "http://")
	var hc bytes.Buffer
	if err := run(context.Background(), []string{"scanlogin", "healthcheck"}, func(k string) string {
		return map[string]string{"SCANLOGIN_ADDR": addr}[k]
	}, &hc, io.Discard); err != nil || !strings.Contains(hc.String(), "ok") {
		t.Fatalf("healthcheck of a running server: %v %q", err, hc.String())
	}
	const n = 4
	answers := make(chan int, n)
	states := make(chan any, n)
	for range n {
		code, sc := post(t, base+"/api/v1/qr", "", "")
		if code != 201 {
			t.Fatalf("create: %d %v", code, sc)
		}
		go func() {
			code, st := get(t, base+"/api/v1/qr/"+sc["scene"].(string)+"/state?since=1&wait=30", sc["poll_token"].(string))
			answers <- code
			states <- st["state"]
		}()
	}
	waitingPolls(t, base, "4") // the shutdown finds every poll waiting
	start := time.Now()
	cancel()
	for range n {
		select {
		case code := <-answers:
			if st := <-states; code != 200 || st != "pending" {
				t.Errorf("a waiting poll got %d %v", code, st)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiting poll was not answered")
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("run did not return")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s", d)
	}
	logs := stderr.String()
	if !strings.Contains(logs, `"msg":"shutting down"`) || !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no shutdown lines in the log: %s", logs)
	}
}

// TestRunReadyzFailsFirst: during the shutdown delay /readyz is 503 while
// the API still answers.
func TestRunReadyzFailsFirst(t *testing.T) {
	rs := scanlogintest.Start(t)
	base, _, cancel, done := startRun(t, map[string]string{
		"SCANLOGIN_ADDR":           "127.0.0.1:0",
		"SCANLOGIN_REDIS_URL":      rs.URL(),
		"SCANLOGIN_DATA_DIR":       t.TempDir(),
		"SCANLOGIN_SHUTDOWN_DELAY": "3s", // the checks below fit in it on a slow machine
	})
	cancel()
	// readyz turns 503 as soon as run sees the cancel, not after a guessed
	// pause.
	code := 0
	for deadline := time.Now().Add(time.Second); code != 503 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		code, _ = get(t, base+"/readyz", "")
	}
	if code != 503 {
		t.Errorf("readyz during shutdown: %d", code)
	}
	if code, _ := get(t, base+"/healthz", ""); code != 200 {
		t.Errorf("healthz during the delay: %d", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunDemo: nothing configured but the address (and, not to write into
// the source tree, the data directory): the embedded Redis, users in a
// SQLite file whose absolute path the log prints, the fake WeChat at
// /dev/wechat/, a QR that encodes /dev/phone, the whole login.
func TestRunDemo(t *testing.T) {
	dataDir := t.TempDir()
	t.Chdir(dataDir)
	base, stderr, _, _ := startRun(t, map[string]string{"SCANLOGIN_ADDR": "127.0.0.1:0", "SCANLOGIN_DATA_DIR": "demo-data"})
	if !strings.Contains(stderr.String(), "not durable") {
		t.Errorf("no warning about the embedded Redis: %s", stderr.String())
	}
	dbFile := filepath.Join(dataDir, "demo-data", "scanlogin.db")
	if !strings.Contains(stderr.String(), `"database":"sqlite `+dbFile+`"`) {
		t.Errorf("the log does not name the database file %s: %s", dbFile, stderr.String())
	}
	if _, err := os.Stat(dbFile); err != nil {
		t.Errorf("no database file: %v", err)
	}
	_, created := post(t, base+"/api/v1/qr", "", "")
	scene, poll := created["scene"].(string), created["poll_token"].(string)
	resp, err := http.Get(base + "/api/v1/qr/" + scene + "/image")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("image: %v %v", err, resp)
	}
	resp.Body.Close()
	if resp, err := http.Get(base + "/dev/phone?scene=" + scene); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/dev/phone: %v %v", err, resp)
	}
	_, code := post(t, base+"/dev/wechat/login", "", `{"openid":"oDemoUser00000000000000000001","nickname":"Demo"}`)
	_, login := post(t, base+"/api/v1/mp/login", "", `{"code":"`+code["code"].(string)+`"}`)
	tok, _ := login["token"].(string)
	if c, _ := post(t, base+"/api/v1/qr/"+scene+"/scan", tok, ""); c != 200 {
		t.Fatalf("scan %d", c)
	}
	if c, _ := post(t, base+"/api/v1/qr/"+scene+"/confirm", tok, ""); c != 200 {
		t.Fatalf("confirm %d", c)
	}
	c, red := post(t, base+"/api/v1/qr/"+scene+"/redeem", poll, "")
	if c != 200 {
		t.Fatalf("redeem %d %v", c, red)
	}
	if c, _ := get(t, base+"/api/v1/me", red["access_token"].(string)); c != 200 {
		t.Fatalf("me %d", c)
	}
}

// TestEmbeddedRedisTTL: the embedded Redis expires keys on the real clock.
func TestEmbeddedRedisTTL(t *testing.T) {
	rdb, closeRedis, err := openRedis(app.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 100*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	if err := rdb.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("key still there after its TTL: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, _ := server.GenerateSigningKey()
	pemBytes, _ := server.MarshalSigningKeyPEM(key)
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	hexKey := strings.Repeat("ab", 32)

	good := map[string]string{
		"SCANLOGIN_WECHAT_APPID":       "wx1234567890abcdef",
		"SCANLOGIN_WECHAT_SECRET_FILE": secretFile,
		"SCANLOGIN_REDIS_URL":          "redis://redis:6379/0",
		"SCANLOGIN_DATABASE_URL":       "postgres://scanlogin:pw@postgres:5432/scanlogin",
		"SCANLOGIN_SIGNING_KEY_FILE":   keyFile,
		"SCANLOGIN_SESSION_KEY_SECRET": hexKey,
		"SCANLOGIN_SCENE_TTL":          "90s",
		"SCANLOGIN_NUMBER_MATCH":       "on",
		"SCANLOGIN_TRUSTED_PROXIES":    "10.0.0.0/8, 192.0.2.1",
		"SCANLOGIN_ALLOWED_ORIGINS":    "https://a.example,https://b.example",
		"SCANLOGIN_AVATAR_HOSTS":       "thirdwx.qlogo.cn, cdn.example.com",
		"SCANLOGIN_RATE_LIMITS":        "create=5,poll=60",
		"SCANLOGIN_ADMISSION":          "limit=40,low_wait=250ms",
		"SCANLOGIN_PUBLIC_URL":         "https://login.example.com",
	}
	cfg, err := loadConfig(func(k string) string { return good[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithDefaults()
	if cfg.WeChatSecret != "file-secret" || cfg.SceneTTL != 90*time.Second || !cfg.NumberMatch || len(cfg.TrustedProxies) != 2 ||
		len(cfg.AllowedOrigins) != 2 || len(cfg.AvatarHosts) != 2 || cfg.AvatarHosts[1] != "cdn.example.com" || cfg.Limits.CreatePerIP != 5 || cfg.Limits.PollPerScene != 60 || cfg.Limits.LoginPerIP != app.DefaultLimits.LoginPerIP ||
		len(cfg.SessionKeySecret) != 32 || len(cfg.SigningKeys) != 1 || cfg.DevMode() || cfg.Issuer != "https://login.example.com" || cfg.Addr != ":8080" ||
		cfg.Admission.Limit != 40 || cfg.Admission.LowWait != 250*time.Millisecond || cfg.Admission.HighWait != 0 {
		t.Fatalf("config: %+v", cfg)
	}

	for _, tt := range []struct {
		name, key, value, want string
	}{
		{"bad ttl", "SCANLOGIN_SCENE_TTL", "soon", "SCANLOGIN_SCENE_TTL"},
		{"bad admission", "SCANLOGIN_ADMISSION", "limit=lots", "SCANLOGIN_ADMISSION"},
		{"bad bool", "SCANLOGIN_NUMBER_MATCH", "maybe", "SCANLOGIN_NUMBER_MATCH"},
		{"bad proxy", "SCANLOGIN_TRUSTED_PROXIES", "proxy.local", "SCANLOGIN_TRUSTED_PROXIES"},
		{"bad limit", "SCANLOGIN_RATE_LIMITS", "create=lots", "SCANLOGIN_RATE_LIMITS"},
		{"bad key secret", "SCANLOGIN_SESSION_KEY_SECRET", "tooshort", "SCANLOGIN_SESSION_KEY_SECRET"},
		{"secret and file", "SCANLOGIN_WECHAT_SECRET", "also", "SCANLOGIN_WECHAT_SECRET"},
		{"missing file", "SCANLOGIN_WECHAT_SECRET_FILE", filepath.Join(dir, "nope"), "SCANLOGIN_WECHAT_SECRET_FILE"},
		{"bad key file", "SCANLOGIN_SIGNING_KEY_FILE", secretFile, "SCANLOGIN_SIGNING_KEY_FILE"},
		{"bad env version", "SCANLOGIN_MP_ENV_VERSION", "beta", "SCANLOGIN_MP_ENV_VERSION"},
		{"bad origin", "SCANLOGIN_ALLOWED_ORIGINS", "a.example", "SCANLOGIN_ALLOWED_ORIGINS"},
		{"avatar host ip", "SCANLOGIN_AVATAR_HOSTS", "thirdwx.qlogo.cn,127.0.0.1", "SCANLOGIN_AVATAR_HOSTS"},
		{"avatar host localhost", "SCANLOGIN_AVATAR_HOSTS", "localhost", "SCANLOGIN_AVATAR_HOSTS"},
		{"avatar host decimal ip", "SCANLOGIN_AVATAR_HOSTS", "2130706433", "SCANLOGIN_AVATAR_HOSTS"},
		{"avatar host with port", "SCANLOGIN_AVATAR_HOSTS", "cdn.example.com:8443", "SCANLOGIN_AVATAR_HOSTS"},
		{"avatar host url", "SCANLOGIN_AVATAR_HOSTS", "https://cdn.example.com", "SCANLOGIN_AVATAR_HOSTS"},
		{"no redis", "SCANLOGIN_REDIS_URL", "", "SCANLOGIN_REDIS_URL"},
		{"no database", "SCANLOGIN_DATABASE_URL", "", "SCANLOGIN_DATABASE_URL"},
		{"bad database", "SCANLOGIN_DATABASE_URL", "mysql://u@h/db", "SCANLOGIN_DATABASE_URL"},
		{"bad public url", "SCANLOGIN_PUBLIC_URL", "login.example.com", "SCANLOGIN_PUBLIC_URL"},
		{"negative seconds", "SCANLOGIN_SESSION_TTL", "-5", "SCANLOGIN_SESSION_TTL"},
		{"zero seconds", "SCANLOGIN_SCENE_TTL", "0", "SCANLOGIN_SCENE_TTL"},
		{"negative limit", "SCANLOGIN_RATE_LIMITS", "poll=-1", "SCANLOGIN_RATE_LIMITS"},
		{"plain http with credentials", "SCANLOGIN_PUBLIC_URL", "http://login.example.com", "SCANLOGIN_PUBLIC_URL"},
		{"no public url with credentials", "SCANLOGIN_PUBLIC_URL", "", "SCANLOGIN_PUBLIC_URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range good {
				env[k] = v
			}
			env[tt.key] = tt.value
			_, err := loadConfig(func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one naming %s", err, tt.want)
			}
		})
	}

	// All limits at 0 turn them all off, as a single 0 turns one off; it
	// is not the empty "unset" Limits that takes the defaults.
	for _, v := range []string{"create=0,login=0,scan=0,poll=0", "poll=0"} {
		env := map[string]string{}
		for k, val := range good {
			env[k] = val
		}
		env["SCANLOGIN_RATE_LIMITS"] = v
		cfg, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		cfg = cfg.WithDefaults()
		if cfg.Limits.PollPerScene > 0 || (v != "poll=0" && (cfg.Limits.CreatePerIP > 0 || cfg.Limits.LoginPerIP > 0 || cfg.Limits.ScanPerUser > 0)) {
			t.Fatalf("%s: limits %+v", v, cfg.Limits)
		}
	}
	// A shutdown delay of 0 is valid (it is the default).
	env := map[string]string{"SCANLOGIN_SHUTDOWN_DELAY": "0"}
	if _, err := loadConfig(func(k string) string { return env[k] }); err != nil {
		t.Fatalf("SCANLOGIN_SHUTDOWN_DELAY=0: %v", err)
	}

	// Nothing at all is the demo.
	cfg, err = loadConfig(func(string) string { return "" })
	if cfg = cfg.WithDefaults(); err != nil || !cfg.DevMode() || cfg.PublicURL != "http://localhost:8080" {
		t.Fatalf("empty environment: %+v %v", cfg, err)
	}
	// run refuses a bad variable with its name.
	err = run(context.Background(), []string{"scanlogin"}, func(k string) string {
		return map[string]string{"SCANLOGIN_SCENE_TTL": "-5s"}[k]
	}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SCANLOGIN_SCENE_TTL") {
		t.Fatalf("run with a bad variable: %v", err)
	}
}

// SCANLOGIN_ISSUER ending in "/" with the OpenID provider on is refused:
// the provider drops the slash, and the access tokens' iss would then not
// be the issuer of discovery (README.md says they are one), so a verifier
// that takes it from discovery would refuse every access token.
func TestIssuerTrailingSlash(t *testing.T) {
	clients := filepath.Join(t.TempDir(), "clients.yaml")
	if err := os.WriteFile(clients, []byte("clients: [{id: grafana, secret: \"0123456789abcdef0123456789abcdef\", redirect_uris: [\"https://g.example.com/cb\"]}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SCANLOGIN_ISSUER": "https://login.example.com/", "SCANLOGIN_PUBLIC_URL": "https://login.example.com/"}
	get := func(k string) string { return env[k] }
	env["SCANLOGIN_OIDC_CLIENTS_FILE"] = clients
	if _, err := loadConfig(get); err == nil || !strings.Contains(err.Error(), "SCANLOGIN_ISSUER") || !strings.Contains(err.Error(), "trailing slash") {
		t.Fatalf("with OpenID Connect, an issuer ending in /: %v", err)
	}
	env["SCANLOGIN_ISSUER"] = "https://login.example.com"
	if _, err := loadConfig(get); err != nil {
		t.Fatal(err)
	}
}

// startUntilListen runs the server until it fails to listen (its port is
// taken): what it logged on each stream, and every variable it read on
// the way, the configuration and the logging and profiling settings.
func startUntilListen(t *testing.T) (stdout, stderr string, read map[string]bool) {
	t.Helper()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	env := map[string]string{"SCANLOGIN_ADDR": taken.Addr().String(), "SCANLOGIN_DATA_DIR": t.TempDir()}
	var mu sync.Mutex
	read = map[string]bool{}
	var out, errs bytes.Buffer
	// Logs a line or two (the embedded Redis), then stops.
	if err := run(context.Background(), []string{"scanlogin"}, func(k string) string {
		mu.Lock()
		defer mu.Unlock()
		read[k] = true
		return env[k]
	}, &out, &errs); err == nil || !strings.Contains(err.Error(), "SCANLOGIN_ADDR") {
		t.Fatalf("run on a taken port: %v", err)
	}
	return out.String(), errs.String(), read
}

// scanlogin -h lists every variable the server reads (NAME_FILE forms,
// read beside NAME, are covered by its "secrets also as NAME_FILE").
func TestUsageNamesEveryVariable(t *testing.T) {
	_, _, read := startUntilListen(t)
	if len(read) < 30 {
		t.Fatalf("only %d variables read: %v", len(read), read)
	}
	for v := range read {
		if base, ok := strings.CutSuffix(v, "_FILE"); ok && read[base] {
			continue
		}
		if !regexp.MustCompile(`\b` + v + `\b`).MatchString(usage) {
			t.Errorf("scanlogin -h does not name %s", v)
		}
	}
}

// The operator docs name the stream the JSON log goes to: an operator who
// captures the one they name must get the log.
func TestDocsNameTheLogStream(t *testing.T) {
	stdout, stderr, _ := startUntilListen(t)
	stream := ""
	switch {
	case strings.HasPrefix(stderr, "{") && stdout == "":
		stream = "standard error"
	case strings.HasPrefix(stdout, "{") && stderr == "":
		stream = "standard output"
	default:
		t.Fatalf("no JSON log on one stream: stdout %q, stderr %q", stdout, stderr)
	}
	for _, doc := range []string{"../../deploy/README.md", "../../deploy/.env.example"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`JSON (?:logs |lines )?on (standard error|standard output|stdout|stderr)`).FindStringSubmatch(string(b))
		if m == nil {
			t.Errorf("%s does not say where the JSON log goes", doc)
		} else if m[1] != stream {
			t.Errorf("%s says the JSON log is on %s; run writes it to %s", doc, m[1], stream)
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"scanlogin", "version"}, func(string) string { return "" }, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "scanlogin ") {
		t.Fatalf("version: %q %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"scanlogin", "healthcheck"}, func(k string) string {
		return map[string]string{"SCANLOGIN_ADDR": "127.0.0.1:1"}[k]
	}, io.Discard, io.Discard); err == nil {
		t.Fatal("healthcheck passes with no server")
	}
	if err := run(context.Background(), []string{"scanlogin", "serve"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown argument is accepted")
	}
}

// keygen's output is a key the server loads for SCANLOGIN_SIGNING_KEY_FILE,
// and a new one each time.
func TestKeygen(t *testing.T) {
	var a, b bytes.Buffer
	for _, out := range []*bytes.Buffer{&a, &b} {
		if err := run(context.Background(), []string{"scanlogin", "keygen"}, func(string) string { return "" }, out, io.Discard); err != nil {
			t.Fatalf("keygen: %v", err)
		}
	}
	if bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two keygen runs printed the same key")
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, a.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(func(k string) string {
		return map[string]string{
			"SCANLOGIN_SIGNING_KEY_FILE":   path,
			"SCANLOGIN_WECHAT_APPID":       "wx0000000000000000",
			"SCANLOGIN_WECHAT_SECRET":      "secret",
			"SCANLOGIN_REDIS_URL":          "redis://127.0.0.1:1/0",
			"SCANLOGIN_DATABASE_URL":       "sqlite:///var/lib/scanlogin/users.db",
			"SCANLOGIN_SESSION_KEY_SECRET": strings.Repeat("ab", 32),
			"SCANLOGIN_PUBLIC_URL":         "https://login.example.com",
		}[k]
	}); err != nil {
		t.Fatalf("the server does not load keygen's key: %v", err)
	}
}

// keygen rsa makes the ID-token key; with a clients file the server loads
// it, and without one a clients file is refused by name.
func TestKeygenRSAAndOIDCConfig(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"scanlogin", "keygen", "rsa"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("keygen rsa: %v", err)
	}
	dir := t.TempDir()
	rsaPath, sigPath, clients := filepath.Join(dir, "rsa.pem"), filepath.Join(dir, "sig.pem"), filepath.Join(dir, "clients.yaml")
	var sig bytes.Buffer
	if err := run(context.Background(), []string{"scanlogin", "keygen"}, func(string) string { return "" }, &sig, io.Discard); err != nil {
		t.Fatal(err)
	}
	for p, b := range map[string][]byte{rsaPath: out.Bytes(), sigPath: sig.Bytes(),
		clients: []byte("clients: [{id: grafana, secret: \"0123456789abcdef0123456789abcdef\", redirect_uris: [\"https://g.example.com/cb\"]}]")} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"SCANLOGIN_SIGNING_KEY_FILE":   sigPath,
		"SCANLOGIN_WECHAT_APPID":       "wx0000000000000000",
		"SCANLOGIN_WECHAT_SECRET":      "secret",
		"SCANLOGIN_REDIS_URL":          "redis://127.0.0.1:1/0",
		"SCANLOGIN_SESSION_KEY_SECRET": strings.Repeat("ab", 32),
		"SCANLOGIN_PUBLIC_URL":         "https://login.example.com",
		"SCANLOGIN_OIDC_CLIENTS_FILE":  clients,
		"SCANLOGIN_DATABASE_URL":       "sqlite://" + filepath.Join(dir, "db.sqlite"),
	}
	get := func(k string) string { return env[k] }
	if _, err := loadConfig(get); err == nil || !strings.Contains(err.Error(), "SCANLOGIN_OIDC_RSA_KEY_FILE") {
		t.Fatalf("clients without an RSA key: %v", err)
	}
	env["SCANLOGIN_OIDC_RSA_KEY_FILE"] = rsaPath
	cfg, err := loadConfig(get)
	if err != nil {
		t.Fatalf("the server does not load keygen rsa's key: %v", err)
	}
	if len(cfg.OIDCRSAKeys) != 1 || len(cfg.OIDCClients) != 1 {
		t.Fatalf("keys %d clients %d", len(cfg.OIDCRSAKeys), len(cfg.OIDCClients))
	}
	env["SCANLOGIN_OIDC_RSA_KEY_FILE"] = sigPath // an Ed25519 key
	if _, err := loadConfig(get); err == nil || !strings.Contains(err.Error(), "SCANLOGIN_OIDC_RSA_KEY_FILE") {
		t.Fatalf("an Ed25519 key as the RSA key: %v", err)
	}
	env["SCANLOGIN_OIDC_RSA_KEY_FILE"] = rsaPath
	if err := os.WriteFile(clients, []byte("clients: [{id: grafana, secret: short, redirect_uris: [\"https://g.example.com/cb\"]}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(get); err == nil || !strings.Contains(err.Error(), `SCANLOGIN_OIDC_CLIENTS_FILE`) || !strings.Contains(err.Error(), `(id "grafana"): secret`) {
		t.Fatalf("a bad clients file: %v", err)
	}
}
