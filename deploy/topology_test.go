package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore/sqlstoretest"
	"go.yaml.in/yaml/v3"
)

// The production topology of docker-compose.yml, on loopback: real
// redis-server, two scanlogin processes built from ./cmd/scanlogin, and
// Caddy in front with deploy/Caddyfile's own load-balancing block.

var binary struct {
	once sync.Once
	path string
	err  error
}

// scanloginBinary builds ./cmd/scanlogin once per test run.
func scanloginBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "scanlogin-deploy-test")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "scanlogin")
		cmd := exec.Command("go", "build", "-o", binary.path, "./cmd/scanlogin")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	code := sqlstoretest.Main(m)
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// instance is one scanlogin process.
type instance struct {
	name string
	url  string
	cmd  *exec.Cmd
	logs *servertest.LogBuffer
	done chan error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sharedEnv is what every instance of one deployment shares: Redis, the
// database (a private PostgreSQL, as deployed), keys.
func sharedEnv(t *testing.T, redisURL string) []string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "signing.pem")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-out", key).CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return []string{
		"SCANLOGIN_REDIS_URL=" + redisURL,
		"SCANLOGIN_DATABASE_URL=" + sqlstoretest.Database(t),
		"SCANLOGIN_SIGNING_KEY_FILE=" + key,
		"SCANLOGIN_SESSION_KEY_SECRET=" + hex.EncodeToString(secret),
	}
}

func startInstance(t *testing.T, name string, env []string) *instance {
	t.Helper()
	addr := freeAddr(t)
	in := &instance{name: name, url: "http://" + addr, logs: &servertest.LogBuffer{}, done: make(chan error, 1)}
	in.cmd = exec.Command(scanloginBinary(t))
	in.cmd.Env = append(append(os.Environ(),
		"SCANLOGIN_ADDR="+addr,
		"SCANLOGIN_PUBLIC_URL="+in.url,
		"SCANLOGIN_TRUSTED_PROXIES=127.0.0.1/32",
	), env...)
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.done <- in.cmd.Wait() }()
	t.Cleanup(func() {
		_ = in.cmd.Process.Kill()
		<-in.done
		if t.Failed() {
			t.Logf("%s log:\n%s", name, tail(in.logs.String(), 4000))
		}
	})
	waitHealthy(t, in.url, in)
	return in
}

func waitHealthy(t *testing.T, url string, in *instance) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if in != nil {
			select {
			case err := <-in.done:
				t.Fatalf("%s exited at start: %v\n%s", in.name, err, tail(in.logs.String(), 4000))
			default:
			}
		}
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop(t *testing.T, within time.Duration) {
	t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.done:
		in.done <- err // for Cleanup
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM", in.name, err)
		}
	case <-time.After(within):
		t.Fatalf("%s still running %v after SIGTERM", in.name, within)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// client speaks the public API.
type client struct {
	t    *testing.T
	http *http.Client

	// proxyRetries counts retries of answers the proxy made up itself
	// (a 502/503 without our error body), which browsers and the
	// mini-program retry too; a 5xx from scanlogin is never retried.
	proxyRetries atomic.Int64
}

func newClient(t *testing.T) *client {
	return &client{t: t, http: &http.Client{Timeout: 45 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}}
}

// call does one request and decodes a JSON answer into out (when non-nil).
func (c *client) call(method, url, bearer string, body, out any) (int, error) {
	for attempt := 0; ; attempt++ {
		status, proxyMade, err := c.try(method, url, bearer, body, out)
		if !proxyMade || attempt == 5 {
			return status, err
		}
		c.proxyRetries.Add(1)
		c.t.Logf("retrying: %v", err)
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
}

// try does one attempt; proxyMade reports a 502/503 whose body is not
// scanlogin's error shape.
func (c *client) try(method, url, bearer string, body, out any) (status int, proxyMade bool, err error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, false, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, false, err
	}
	if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" || proxyMadeBody(b) {
			return resp.StatusCode, true, fmt.Errorf("%s %s: %d from the proxy %q", method, url, resp.StatusCode, b)
		}
	}
	if out != nil && len(b) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, false, fmt.Errorf("decode %s %s (%d): %v: %s", method, url, resp.StatusCode, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, false, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, false, nil
}

// proxyMadeBody tells Caddy's own answer (the Caddyfile's handle_errors)
// from a replica's.
func proxyMadeBody(b []byte) bool {
	conf, err := os.ReadFile("Caddyfile")
	return err == nil && len(b) > 0 && bytes.Contains(conf, []byte("respond `"+string(bytes.TrimSpace(b))+"`"))
}

func (c *client) must(method, url, bearer string, body, out any) {
	c.t.Helper()
	if _, err := c.call(method, url, bearer, body, out); err != nil {
		c.t.Fatal(err)
	}
}

type created struct {
	Scene     string `json:"scene"`
	PollToken string `json:"poll_token"`
	Version   int64  `json:"version"`
	MatchCode string `json:"match_code"`
}

type sceneState struct {
	Scene   string `json:"scene"`
	State   string `json:"state"`
	Version int64  `json:"version"`
}

// phoneLogin mints a wx.login code on one instance's fake WeChat and logs in
// with it (on base), returning the mini-program token.
func (c *client) phoneLogin(fake, base, openid string) string {
	c.t.Helper()
	var code struct{ Code string }
	c.must("POST", fake+"/dev/wechat/login", "", map[string]string{"openid": openid, "nickname": openid}, &code)
	var login struct{ Token string }
	c.must("POST", base+"/api/v1/mp/login", "", map[string]string{"code": code.Code}, &login)
	if login.Token == "" {
		c.t.Fatal("mp login returned no token")
	}
	return login.Token
}

func (c *client) poll(base string, s created, since int64, wait int) (sceneState, error) {
	var st sceneState
	_, err := c.call("GET", fmt.Sprintf("%s/api/v1/qr/%s/state?since=%d&wait=%d", base, s.Scene, since, wait), s.PollToken, nil, &st)
	return st, err
}

// A browser on one instance, a phone on the other: the poll wakes, and the
// session works everywhere.
func TestTwoInstancesOneRedis(t *testing.T) {
	tool(t, "openssl")
	rs := scanlogintest.Start(t)
	env := sharedEnv(t, rs.URL())
	a := startInstance(t, "a", env)
	b := startInstance(t, "b", env)
	loginAcross(t, newClient(t), a.url, b.url, "o_two_instances")
}

// loginAcross runs one complete login with the browser on browserBase and
// the phone on phoneBase, checking that the browser's poll is woken by the
// phone's transitions on the other instance.
func loginAcross(t *testing.T, c *client, browserBase, phoneBase, openid string) {
	t.Helper()
	var s created
	c.must("POST", browserBase+"/api/v1/qr", "", map[string]any{}, &s)
	token := c.phoneLogin(phoneBase, phoneBase, openid)

	woke := make(chan sceneState, 1)
	go func() {
		st, err := c.poll(browserBase, s, s.Version, 25)
		if err != nil {
			t.Error(err)
		}
		woke <- st
	}()
	// The scan wakes a waiting poll, not one arriving after it.
	waitFor(t, 10*time.Second, func() bool { return waitingPolls(t, browserBase) == 1 })
	start := time.Now()
	c.must("POST", phoneBase+"/api/v1/qr/"+s.Scene+"/scan", token, map[string]any{}, nil)
	st := <-woke
	if st.State != "scanned" {
		t.Fatalf("poll on the other instance returned %+v, want scanned", st)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("wake across instances took %v", d)
	}
	c.must("POST", phoneBase+"/api/v1/qr/"+s.Scene+"/confirm", token, map[string]any{"match_code": s.MatchCode}, nil)
	st, err := c.poll(browserBase, s, st.Version, 25)
	if err != nil || st.State != "confirmed" {
		t.Fatalf("poll after confirm: %+v, %v", st, err)
	}
	var session struct {
		AccessToken string `json:"access_token"`
	}
	c.must("POST", browserBase+"/api/v1/qr/"+s.Scene+"/redeem", s.PollToken, map[string]any{}, &session)
	for _, base := range []string{browserBase, phoneBase} {
		var me struct{ ID string }
		c.must("GET", base+"/api/v1/me", session.AccessToken, nil, &me)
		if me.ID == "" {
			t.Errorf("%s /api/v1/me returned no user", base)
		}
	}
}

// caddy runs deploy/Caddyfile's reverse_proxy block on loopback in front of
// the given upstreams, plain HTTP.
func startCaddy(t *testing.T, upstreams ...string) string {
	t.Helper()
	bin := tool(t, "caddy")
	b, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	conf := strings.Replace(string(b), "{$SCANLOGIN_DOMAIN:localhost}", "http://"+addr, 1)
	conf = strings.Replace(conf, "scanlogin-1:8080 scanlogin-2:8080", strings.Join(upstreams, " "), 1)
	conf = "{\n\tadmin off\n\tauto_https off\n}\n\n" + conf
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	must(t, os.WriteFile(path, []byte(conf), 0o644))
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	logs := &servertest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("caddy log:\n%s", tail(logs.String(), 3000))
		}
	})
	waitHealthy(t, "http://"+addr, nil)
	return "http://" + addr
}

// A rolling restart: SIGTERM one instance while 500 polls wait on it. Every
// poll is answered (not reset), the browsers poll again through the proxy,
// land on the other instance, and every login in flight completes.
func TestRollingRestartBehindCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and 500 polls")
	}
	tool(t, "openssl")
	rs := scanlogintest.Start(t)
	// Every request comes from this one test process (and through Caddy, from
	// one address), so the per-IP and per-user limits are lifted here; they
	// have tests of their own in server.
	env := append(sharedEnv(t, rs.URL()), "SCANLOGIN_RATE_LIMITS=create=100000,login=100000,scan=100000,poll=100000",
		"SCANLOGIN_SHUTDOWN_DELAY="+composeEnv(t, "SCANLOGIN_SHUTDOWN_DELAY"))
	a := startInstance(t, "a", env)
	b := startInstance(t, "b", env)
	proxy := startCaddy(t, strings.TrimPrefix(a.url, "http://"), strings.TrimPrefix(b.url, "http://"))
	c := newClient(t)

	const n = 500
	scenes := make([]created, n)
	for i := range scenes {
		c.must("POST", proxy+"/api/v1/qr", "", map[string]any{}, &scenes[i])
	}
	// Half the logins are already scanned when the restart comes.
	phone := c.phoneLogin(b.url, b.url, "o_rolling")
	for i := 0; i < n; i += 2 {
		c.must("POST", b.url+"/api/v1/qr/"+scenes[i].Scene+"/scan", phone, map[string]any{}, nil)
	}

	// 500 polls waiting on instance a, directly, with their current version.
	var answered, failed atomic.Int64
	var wg sync.WaitGroup
	results := make([]sceneState, n)
	for i := range scenes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			since := int64(1)
			if i%2 == 0 {
				since = 2
			}
			st, err := c.poll(a.url, scenes[i], since, 30)
			if err != nil {
				failed.Add(1)
				t.Errorf("poll %d on the stopping instance: %v", i, err)
				return
			}
			answered.Add(1)
			results[i] = st
		}()
	}
	waitFor(t, 10*time.Second, func() bool { return waitingPolls(t, a.url) >= n })

	stopped := time.Now()
	a.stop(t, 15*time.Second)
	wg.Wait()
	if d := time.Since(stopped); d > 10*time.Second {
		t.Errorf("waiting polls took %v to be answered after SIGTERM", d)
	}
	if answered.Load() != n || failed.Load() != 0 {
		t.Fatalf("answered %d, failed %d of %d polls", answered.Load(), failed.Load(), n)
	}

	// Browsers poll again through the proxy, which now reaches only b; the
	// phone finishes every login and each browser redeems once.
	var done atomic.Int64
	sem := make(chan struct{}, 50)
	for i := range scenes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s := scenes[i]
			if i%2 == 1 {
				if _, err := c.call("POST", proxy+"/api/v1/qr/"+s.Scene+"/scan", phone, map[string]any{}, nil); err != nil {
					t.Errorf("scan %d after restart: %v", i, err)
					return
				}
			}
			if _, err := c.call("POST", proxy+"/api/v1/qr/"+s.Scene+"/confirm", phone, map[string]any{"match_code": s.MatchCode}, nil); err != nil {
				t.Errorf("confirm %d after restart: %v", i, err)
				return
			}
			st, err := c.poll(proxy, s, results[i].Version, 25)
			if err != nil || st.State != "confirmed" {
				t.Errorf("poll %d after restart: %+v %v", i, st, err)
				return
			}
			if _, err := c.call("POST", proxy+"/api/v1/qr/"+s.Scene+"/redeem", s.PollToken, map[string]any{}, nil); err != nil {
				t.Errorf("redeem %d: %v", i, err)
				return
			}
			done.Add(1)
		}()
	}
	wg.Wait()
	if done.Load() != n {
		t.Fatalf("%d of %d logins completed after the rolling restart", done.Load(), n)
	}
	t.Logf("%d logins completed; %d proxy-made 502/503 answers retried", n, c.proxyRetries.Load())
	// Caddy reached the replicas over h2c, as the Caddyfile asks.
	if !strings.Contains(b.logs.String(), `"proto":"HTTP/2.0"`) || strings.Contains(b.logs.String(), `"proto":"HTTP/1.1","route":"/api/v1/qr/:scene/confirm"`) {
		t.Error("the proxy did not speak HTTP/2 (h2c) to the replicas")
	}
}

// composeEnv is a replica's variable as docker-compose.yml sets it, so the
// test runs what operators deploy.
func composeEnv(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	v := findScalar(&doc, "services", "scanlogin-1", "environment", name)
	if v == "" {
		t.Fatalf("docker-compose.yml sets no %s", name)
	}
	return v
}

// waitingPolls reads the server's waiting-polls gauge from /metrics.
func waitingPolls(t *testing.T, base string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "scanlogin_waiting_polls ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(line, "scanlogin_waiting_polls "), "%g", &v)
			return v
		}
	}
	return 0
}

func waitFor(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("condition not met within %v", within)
}

// The same login across two instances on a Redis Cluster of three masters:
// hash-tagged keys keep each script in one slot, and wake-ups cross nodes.
func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	tool(t, "openssl")
	cli := tool(t, "redis-cli")
	var nodes []*scanlogintest.Server
	for range 3 {
		nodes = append(nodes, scanlogintest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"))
	}
	args := []string{"--cluster", "create"}
	for _, n := range nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitFor(t, 15*time.Second, func() bool {
		for _, n := range nodes {
			out, _ := exec.Command(cli, "-p", fmt.Sprint(n.Port()), "cluster", "info").Output()
			if !bytes.Contains(out, []byte("cluster_state:ok")) {
				return false
			}
		}
		return true
	})

	url := clusterURL(nodes)
	env := sharedEnv(t, url)
	a := startInstance(t, "a", env)
	b := startInstance(t, "b", env)
	c := newClient(t)
	for i := range 20 { // scenes spread over all three masters' slots
		loginAcross(t, c, a.url, b.url, fmt.Sprintf("o_cluster_%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range nodes {
		calls := n.CommandCalls(ctx, t)
		if calls["evalsha"]+calls["eval"] == 0 {
			t.Errorf("master %s ran no scripts: keys did not spread over the cluster", n.Addr())
		}
	}
}

// clusterURL is the Cluster form of SCANLOGIN_REDIS_URL: one seed address in
// the authority and the others as addr parameters.
func clusterURL(nodes []*scanlogintest.Server) string {
	u := "redis+cluster://" + nodes[0].Addr()
	for i, n := range nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr()
	}
	return u
}

// TestStoresDownBehindCaddy: with the database down, the replicas stay in
// the balancer (readiness is Redis, README.md "HTTP API (v1)"): what needs no database
// works, and what needs it gets the replicas' 503 with Retry-After. With
// Redis down no replica is ready, and Caddy answers in the API's error
// shape, with Retry-After, within a couple of seconds.
func TestStoresDownBehindCaddy(t *testing.T) {
	tool(t, "openssl")
	rs := scanlogintest.Start(t)
	pg := sqlstoretest.Start(t)
	env := append(sharedEnv(t, rs.URL()), "SCANLOGIN_DATABASE_URL="+pg.CreateDatabase(t))
	a := startInstance(t, "a", env)
	b := startInstance(t, "b", env)
	proxy := startCaddy(t, strings.TrimPrefix(a.url, "http://"), strings.TrimPrefix(b.url, "http://"))
	c := newClient(t)
	// The metrics are the replicas' own, for the scraper inside the
	// network: the proxy does not publish them.
	if status, _, err := c.try("GET", a.url+"/metrics", "", nil, nil); status != http.StatusOK {
		t.Fatalf("a replica's /metrics: %d %v", status, err)
	}
	if resp, err := http.Get(proxy + "/metrics"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" || !bytes.Contains(b, []byte(`"not_found"`)) {
			t.Fatalf("/metrics through the proxy: %d %s %.200q, want a 404 in the API's error shape", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	var code struct{ Code string }
	c.must("POST", a.url+"/dev/wechat/login", "", map[string]string{"openid": "o_db_down"}, &code)

	pg.Stop()
	time.Sleep(3 * time.Second) // past Caddy's health interval and timeout
	var ready struct{ Status, Database string }
	c.must("GET", proxy+"/readyz", "", nil, &ready)
	if ready.Status != "ready" || ready.Database != "unavailable" {
		t.Fatalf("readyz with the database down: %+v", ready)
	}
	var sc created
	c.must("POST", proxy+"/api/v1/qr", "", map[string]any{}, &sc)
	status, proxyMade, err := c.try("POST", proxy+"/api/v1/mp/login", "", map[string]string{"code": code.Code}, nil)
	if status != http.StatusServiceUnavailable || proxyMade {
		t.Fatalf("a login with the database down: %d (made by the proxy: %v) %v", status, proxyMade, err)
	}

	rs.Stop()
	time.Sleep(3 * time.Second)
	start := time.Now()
	req, _ := http.NewRequest("POST", proxy+"/api/v1/qr", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || json.Unmarshal(body, &e) != nil || e.Error.Code != "unavailable" {
		t.Fatalf("with Redis down: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("with Redis down the answer took %v", took)
	}
}
