package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/oidcop"
)

// run is the whole program: configuration, logger, Redis, the listener,
// the application assembled by app.New (the composition root), and graceful
// shutdown when ctx ends. It returns when the server has stopped.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		switch args[1] {
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(stdout, usage)
			return nil
		case "version", "-version", "--version":
			fmt.Fprintln(stdout, "scanlogin", buildVersion())
			return nil
		case "healthcheck":
			return healthcheck(ctx, getenv, stdout)
		case "keygen":
			return keygen(args[2:], stdout)
		case "migrate-redis":
			if len(args) > 2 {
				return fmt.Errorf("migrate-redis takes no arguments: configuration is by environment (see -h)")
			}
			return migrateRedis(ctx, getenv, stdout)
		}
		return fmt.Errorf("unexpected arguments %q: configuration is by environment (see -h)", args[1:])
	}
	// SIGHUP re-reads the OpenID clients (below). Caught from the start: its
	// default action would end an instance that is still starting (opening
	// the database, migrating); one that comes before the app exists has
	// nothing to reload.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logOut := newLogWriter(stderr)
	defer logOut.Flush()
	log, err := newLogger(logOut, getenv("SCANLOGIN_LOG_LEVEL"))
	if err != nil {
		return fmt.Errorf("configuration: SCANLOGIN_LOG_LEVEL: %w", err)
	}

	// The OpenID library logs through slog's default logger: make it ours
	// (JSON, redacted).
	slog.SetDefault(log)

	// go-redis logs through a package-level logger; send it to ours so
	// its lines are JSON and filtered like every other.
	redis.SetLogger(redisLogger{log.With("component", "go-redis")})

	if addr := getenv("SCANLOGIN_DEBUG_ADDR"); addr != "" {
		if err := serveDebug(ctx, addr, log); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
	}

	rdb, closeRedis, err := openRedis(cfg, log)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer closeRedis()

	ln, err := net.Listen("tcp", cfg.WithDefaults().Addr)
	if err != nil {
		return fmt.Errorf("SCANLOGIN_ADDR: %w", err) // say, the port is taken
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if cfg.PublicURL == "" {
		// With SCANLOGIN_ADDR=:0 only the listener knows the port.
		cfg.PublicURL = app.PublicURLFromAddr(ln.Addr().String())
	}
	a, err := app.New(ctx, cfg, app.Deps{
		Redis:   rdb,
		Logger:  log,
		SelfURL: selfURL(ln.Addr().(*net.TCPAddr)),
	})
	if err != nil {
		return err
	}
	cfg = a.Config
	log.Info("database ready", "database", app.DescribeDatabase(cfg.DatabaseURL))
	if cfg.DevMode() {
		log.Warn("dev mode: no WeChat credentials; the fake WeChat is mounted at /dev/wechat/ and the signing key is generated")
		hint := phoneHint(cfg.PublicURL, cfg.Addr, port)
		if loopbackOnly(cfg.Addr) {
			// No phone can reach a loopback listener: say what to set.
			log.Info("scanlogin demo ready: open "+cfg.PublicURL+"/ and use the phone simulator; this address is reachable from this computer only", "url", cfg.PublicURL+"/")
			hint = "only this computer can reach it; for a phone on your network set SCANLOGIN_ADDR=:" + strconv.Itoa(port) + " and SCANLOGIN_PUBLIC_URL=http://<this computer's LAN IP>:" + strconv.Itoa(port)
		} else {
			log.Info("scanlogin demo ready: open "+cfg.PublicURL+"/ and scan with a phone on the same network, or use the phone simulator", "url", cfg.PublicURL+"/")
		}
		_ = logOut.Flush() // the log's start-up lines come before the banner
		fmt.Fprintf(stdout, "\n  scanlogin demo: open %s/\n  users are kept in %s\n", cfg.PublicURL, app.DescribeDatabase(cfg.DatabaseURL))
		if hint != "" {
			fmt.Fprintf(stdout, "  %s\n", hint)
		}
		fmt.Fprintln(stdout)
	} else {
		log.Info("scanlogin ready", "url", cfg.PublicURL, "addr", ln.Addr().String(), "version", buildVersion())
	}
	_ = logOut.Flush()
	// SIGHUP re-reads the OpenID clients; a bad file keeps the old ones. One
	// that came while starting is served now.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := a.ReloadOIDCClients(); err != nil {
					log.Error("oidc: clients not reloaded; the previous ones stay", "err", err)
				}
			}
		}
	}()
	err = a.Run(ctx, ln)
	log.Info("stopped")
	return err
}

// phoneHint tells how to let a real phone scan the demo's QR codes: they
// encode the public URL, which a phone cannot reach when it is localhost.
func phoneHint(publicURL, addr string, port int) string {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1") {
		return ""
	}
	if host, _, _ := net.SplitHostPort(addr); host != "" && host != "0.0.0.0" && host != "::" {
		return "" // listening on one address only: nothing else to suggest
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsPrivate() {
			return fmt.Sprintf("to scan with a phone on this network: SCANLOGIN_PUBLIC_URL=http://%s:%d go run ./cmd/scanlogin", n.IP, port)
		}
	}
	return ""
}

// loopbackOnly: the listener accepts connections from this computer only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// healthcheck is the container's HEALTHCHECK (the image has no curl): GET
// /healthz of the server at SCANLOGIN_ADDR on this machine.
func healthcheck(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	addr := getenv("SCANLOGIN_ADDR")
	if addr == "" {
		addr = app.DefaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: SCANLOGIN_ADDR %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// keygen writes a fresh key as PKCS#8 PEM: `keygen` (or `keygen ed25519`)
// the Ed25519 signing key SCANLOGIN_SIGNING_KEY_FILE reads, `keygen rsa`
// the RSA key for ID tokens SCANLOGIN_OIDC_RSA_KEY_FILE reads.
func keygen(args []string, stdout io.Writer) error {
	kind := "ed25519"
	if len(args) > 0 {
		kind = args[0]
	}
	var b []byte
	var err error
	switch kind {
	case "ed25519":
		var k server.SigningKey
		if k, err = server.GenerateSigningKey(); err == nil {
			b, err = server.MarshalSigningKeyPEM(k)
		}
	case "rsa":
		var k oidcop.RSAKey
		if k, err = oidcop.GenerateRSAKey(); err == nil {
			b, err = oidcop.MarshalRSAKeyPEM(k)
		}
	default:
		return fmt.Errorf("keygen: want ed25519 (default) or rsa, got %q", kind)
	}
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	_, err = stdout.Write(b)
	return err
}

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = ""

// buildVersion is the -X version, else the module version Go recorded.
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// selfURL is how this process reaches its own listener.
func selfURL(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1" // a wildcard listener answers on loopback too
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// openRedis connects to SCANLOGIN_REDIS_URL, or, in dev mode without one,
// starts an embedded Redis whose TTLs follow the wall clock.
func openRedis(cfg app.Config, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if cfg.RedisURL != "" {
		rdb, err := app.OpenRedis(cfg.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("SCANLOGIN_REDIS_URL: %w", err)
		}
		return rdb, func() { _ = rdb.Close() }, nil
	}
	if !cfg.DevMode() {
		return nil, nil, errors.New("SCANLOGIN_REDIS_URL is required with WeChat credentials")
	}
	m := miniredis.NewMiniRedis()
	// Without this, keys would only expire when someone calls
	// FastForward; with it their TTLs run on the real clock.
	m.ClockTTL(true)
	if err := m.Start(); err != nil {
		return nil, nil, err
	}
	log.Warn("SCANLOGIN_REDIS_URL is not set: using an embedded in-memory Redis: it is not durable (data is lost on exit) and instances do not share it", "addr", m.Addr())
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	return rdb, func() { _ = rdb.Close(); m.Close() }, nil
}

// redisLogger adapts slog to go-redis's logger.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...))
}

// newLogger is the program's logger: JSON lines to w, redacted; warnings
// and errors are written through at once.
func newLogger(w *logWriter, level string) (*slog.Logger, error) {
	var l slog.Level
	if level != "" {
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("want debug, info, warn or error, got %q", level)
		}
	}
	h := syncHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}), w}
	return slog.New(server.NewRedactHandler(h)), nil
}

const usage = `scanlogin: sign in to a website by scanning a WeChat mini-program code.

Run with no configuration for the demo (embedded Redis, fake WeChat).
"scanlogin version" prints the version; "scanlogin healthcheck" checks the
server at SCANLOGIN_ADDR on this machine (for container health checks);
"scanlogin keygen" prints a new Ed25519 signing key (PEM) for
SCANLOGIN_SIGNING_KEY_FILE, "scanlogin keygen rsa" an RSA key for
SCANLOGIN_OIDC_RSA_KEY_FILE; "scanlogin migrate-redis" copies the users of a
previous version's Redis (SCANLOGIN_REDIS_URL, SCANLOGIN_WECHAT_APPID) into
the database (SCANLOGIN_DATABASE_URL), idempotently, and prints counts.
SIGHUP re-reads SCANLOGIN_OIDC_CLIENTS_FILE.
Configuration is by environment variables (secrets also as NAME_FILE):

  SCANLOGIN_ADDR                listen address (default :8080)
  SCANLOGIN_PUBLIC_URL          absolute URL browsers and phones use (default from the address)
  SCANLOGIN_REDIS_URL           redis://, rediss://, unix://, redis+sentinel://, redis+cluster://
  SCANLOGIN_DATABASE_URL        users: postgres://user:pass@host/db or sqlite:///path/file.db
                                (required with WeChat credentials; dev mode: SQLite in the data dir)
  SCANLOGIN_DATA_DIR            dev mode's data directory (default .scanlogin)
  SCANLOGIN_WECHAT_APPID        with SCANLOGIN_WECHAT_SECRET: talk to WeChat (no dev mode)
  SCANLOGIN_WECHAT_SECRET       the AppSecret
  SCANLOGIN_WECHAT_BASE_URL     default https://api.weixin.qq.com
  SCANLOGIN_MP_PAGE             confirm page (default pages/scan/scan)
  SCANLOGIN_MP_ENV_VERSION      release | trial | develop
  SCANLOGIN_SIGNING_KEY_FILE    Ed25519 PEM files, comma-separated; the first signs
  SCANLOGIN_SESSION_KEY_SECRET  32 bytes (64 hex or base64): encrypts session_key at rest
  SCANLOGIN_OIDC_CLIENTS_FILE   OpenID Connect clients (YAML, docs/OIDC.md); turns the provider on
  SCANLOGIN_OIDC_RSA_KEY_FILE   RSA PEM files for ID tokens, comma-separated; the first signs
  SCANLOGIN_SCENE_TTL           pending scene lifetime (default 120s)
  SCANLOGIN_QR_MODE             wxacode (default: the mini-program code) | link (a plain QR code)
  SCANLOGIN_QR_LINK_PREFIX      link mode's https:// prefix, ending in / or =
  SCANLOGIN_WECHAT_VERIFY_FILE  WeChat's verification file: name.txt:content, or a directory
  SCANLOGIN_NUMBER_MATCH        on | off
  SCANLOGIN_SITE_NAME           shown on the confirm page
  SCANLOGIN_ALLOWED_ORIGINS     CORS origins for the widget, comma-separated
  SCANLOGIN_AVATAR_HOSTS        https hosts an avatar_url may name (default thirdwx.qlogo.cn,wx.qlogo.cn)
  SCANLOGIN_TRUSTED_PROXIES     proxy IPs/CIDRs whose X-Forwarded-For is believed
  SCANLOGIN_RATE_LIMITS         create=30,login=30,scan=20,poll=120 (per minute; 0 turns one off,
                                all four 0 turn them all off)
  SCANLOGIN_ADMISSION           off, or limit=N,low_wait=D,high_wait=D (default 128 per core, 100ms, 5s)
  SCANLOGIN_LOG_LEVEL           debug | info | warn | error
  SCANLOGIN_DEBUG_ADDR          loopback host:port serving /debug/pprof/ (default off)
and SCANLOGIN_ISSUER, SCANLOGIN_AUDIENCE, SCANLOGIN_ACCESS_TOKEN_TTL, SCANLOGIN_SESSION_TTL,
SCANLOGIN_MP_TOKEN_TTL, SCANLOGIN_CONFIRM_WINDOW, SCANLOGIN_HARD_CAP, SCANLOGIN_REDEEM_WINDOW,
SCANLOGIN_SHUTDOWN_DELAY.`
