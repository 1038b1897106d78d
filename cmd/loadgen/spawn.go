package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/sqlstore/sqlstoretest"
)

// cluster is what loadgen started itself: one redis-server, a PostgreSQL
// (unless -db none) and two server instances sharing them and one signing
// key.
type cluster struct {
	dir       string
	redis     *redisProc
	pg        *sqlstoretest.Postgres // nil unless -db postgres
	instances []*serverProc
}

type redisProc struct {
	addr  string
	port  int
	dir   string
	fsync string // appendfsync
	cmd   *exec.Cmd
}

type serverProc struct {
	url       string
	debugAddr string // SCANLOGIN_DEBUG_ADDR, for -profile
	cmd       *exec.Cmd
	done      chan struct{}
}

func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startCluster(ctx context.Context, cfg *config, logs io.Writer) (*cluster, error) {
	dir, err := os.MkdirTemp("", "scanlogin-loadgen")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir}
	bin := cfg.serverBin
	if bin == "" {
		bin = filepath.Join(dir, "scanlogin")
		fmt.Fprintln(logs, "loadgen: building ./cmd/scanlogin")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/scanlogin")
		build.Dir = moduleRoot()
		if out, err := build.CombinedOutput(); err != nil {
			c.close()
			return nil, fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	// AOF as deployed (deploy/docker-compose.yml: fsync every second). The
	// redis-restart fault kills Redis, so it fsyncs every write instead: a
	// restarted Redis still has every scene, as that fault is about
	// availability, not data loss. Fsync on every write costs the kernel
	// CPU on the same cores, so it is not what the other runs measure.
	fsync := "everysec"
	if cfg.fault == "redis-restart" {
		fsync = "always"
	}
	if c.redis, err = startRedis(dir, fsync); err != nil {
		c.close()
		return nil, err
	}

	dbEnv, err := c.startDatabase(ctx, cfg, logs)
	if err != nil {
		c.close()
		return nil, err
	}

	keyFile := filepath.Join(dir, "signing.pem")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		c.close()
		return nil, err
	}
	// The OpenID client of -mode oidc (registered in every mode: it costs
	// nothing when unused).
	clientsFile := filepath.Join(dir, "oidc-clients.yaml")
	if err := os.WriteFile(clientsFile, []byte(oidcClientYAML), 0o600); err != nil {
		c.close()
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	for i := range 2 {
		port, err := freePort()
		if err != nil {
			c.close()
			return nil, err
		}
		s := &serverProc{url: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
		s.cmd = exec.Command(bin)
		s.cmd.Env = append(os.Environ(),
			"SCANLOGIN_ADDR=127.0.0.1:"+strconv.Itoa(port),
			"SCANLOGIN_PUBLIC_URL="+s.url,
			"SCANLOGIN_REDIS_URL=redis://"+c.redis.addr+"/0",
			// Loadgen plays many browsers behind one proxy: it sends each
			// browser's address in X-Forwarded-For, trusted from loopback.
			"SCANLOGIN_TRUSTED_PROXIES=127.0.0.1/32",
			"SCANLOGIN_SIGNING_KEY_FILE="+keyFile,
			"SCANLOGIN_SESSION_KEY_SECRET="+hex.EncodeToString(secret),
			"SCANLOGIN_SCENE_TTL="+cfg.sceneTTL.String(),
			"SCANLOGIN_OIDC_CLIENTS_FILE="+clientsFile,
			"SCANLOGIN_LOG_LEVEL="+cfg.logLevel,
		)
		s.cmd.Env = append(s.cmd.Env, dbEnv...)
		if cfg.profileDir != "" {
			dport, err := freePort()
			if err != nil {
				c.close()
				return nil, err
			}
			s.debugAddr = "127.0.0.1:" + strconv.Itoa(dport)
			s.cmd.Env = append(s.cmd.Env, "SCANLOGIN_DEBUG_ADDR="+s.debugAddr)
		}
		if cfg.admission != "" {
			s.cmd.Env = append(s.cmd.Env, "SCANLOGIN_ADMISSION="+cfg.admission)
		}
		if cfg.serverProcs > 0 {
			// As a container with that many CPUs would get it.
			s.cmd.Env = append(s.cmd.Env, "GOMAXPROCS="+strconv.Itoa(cfg.serverProcs))
		}
		logFile, err := os.Create(filepath.Join(dir, fmt.Sprintf("server-%d.log", i)))
		if err != nil {
			c.close()
			return nil, err
		}
		s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
		if err := s.cmd.Start(); err != nil {
			c.close()
			return nil, err
		}
		go func() { _ = s.cmd.Wait(); logFile.Close(); close(s.done) }()
		c.instances = append(c.instances, s)
	}
	for _, s := range c.instances {
		if err := waitReady(ctx, s.url, 30*time.Second); err != nil {
			c.close()
			return nil, fmt.Errorf("%s: %v (logs in %s)", s.url, err, dir)
		}
	}
	fmt.Fprintf(logs, "loadgen: redis %s, database %s, servers %s and %s (logs in %s)\n", c.redis.addr, cfg.db, c.instances[0].url, c.instances[1].url, dir)
	return c, nil
}

// startDatabase starts what -db names and returns the servers' environment
// for it: a PostgreSQL with its crash-safe defaults, as deployed; a SQLite
// file both servers share; or none, for a -server-bin of a version before
// the database (the Redis-only before-run).
func (c *cluster) startDatabase(ctx context.Context, cfg *config, logs io.Writer) ([]string, error) {
	// Without SCANLOGIN_DATABASE_URL a server of this version in dev mode
	// keeps users in the data directory: never the working directory here.
	env := []string{"SCANLOGIN_DATA_DIR=" + filepath.Join(c.dir, "data")}
	switch cfg.db {
	case "postgres":
		pg, err := sqlstoretest.StartServer(sqlstoretest.ServerOptions{Durable: true})
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		c.pg = pg
		url, err := pg.NewDatabase(ctx, "scanlogin")
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		fmt.Fprintf(logs, "loadgen: postgres on %s\n", pg.Dir())
		return append(env, "SCANLOGIN_DATABASE_URL="+url), nil
	case "sqlite":
		return append(env, "SCANLOGIN_DATABASE_URL=sqlite://"+filepath.Join(c.dir, "scanlogin.db")), nil
	}
	return env, nil
}

// dbPIDs are the database's processes, for its CPU (none for SQLite, which
// runs inside the servers).
func (c *cluster) dbPIDs() []int {
	if c.pg == nil {
		return nil
	}
	return c.pg.PIDs()
}

func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func startRedis(dir, fsync string) (*redisProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisProc{port: port, addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, fsync: fsync}
	return r, r.start()
}

func (r *redisProc) start() error {
	r.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", r.fsync,
		"--maxclients", "20000", "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	go func(cmd *exec.Cmd) { _ = cmd.Wait() }(r.cmd)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("redis-server did not start")
}

// restart stops Redis, keeps it down for a while, and starts it again on the
// same port with its AOF.
func (r *redisProc) restart(down time.Duration) error {
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", r.addr); err != nil {
			break
		} else {
			c.Close()
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(down)
	return r.start()
}

func waitReady(ctx context.Context, base string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not ready in time")
}

func (c *cluster) pids() []int {
	var out []int
	for _, s := range c.instances {
		out = append(out, s.cmd.Process.Pid)
	}
	return out
}

// sigterm stops one instance the way an orchestrator does.
func (s *serverProc) sigterm(within time.Duration) error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(within):
		return fmt.Errorf("%s still running %v after SIGTERM", s.url, within)
	}
}

func (c *cluster) close() {
	for _, s := range c.instances {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
				_ = s.cmd.Process.Kill()
			}
		}
	}
	if c.redis != nil && c.redis.cmd != nil && c.redis.cmd.Process != nil {
		_ = c.redis.cmd.Process.Kill()
	}
	if c.pg != nil {
		c.pg.Close()
	}
	if os.Getenv("LOADGEN_KEEP") == "" {
		os.RemoveAll(c.dir)
	}
}
