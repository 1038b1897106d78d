// Command loadgen drives scanlogin servers on loopback the way browsers and
// phones do, and reports latency, throughput and the cost of each login.
//
// Browsers create a scene and follow it (long polls, or a 1 s short poll with
// -mode shortpoll; -mode compare runs both at the same load and reports
// their ratios); phones scan and confirm at a fixed
// open-loop rate, each phone user logging in once and keeping its token as
// the mini-program does (-relogin: before every scan). With no
// -browser-targets it starts its own private redis-server, PostgreSQL
// (-db) and two server instances, browsers on one, phones on the other. All traffic goes to loopback and stops by itself.
//
// The summary breaks the requests down by kind (create, poll, redeem,
// code, login, scan, confirm): answered, shed (503 overloaded), limited
// (429), failed, and their latency; an overload run (-rate about twice
// what the servers sustain) shows what admission control refused and
// whether the logins under way finished (docs/ARCHITECTURE.md#overload).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The generator shares the cores with what it measures and its own
		// memory is not measured: fewer collections leave the servers more.
		debug.SetGCPercent(400)
	}
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	browserTargets []string
	phoneTargets   []string
	redisAddr      string
	pids           []int

	browsers  int
	rate      float64
	duration  time.Duration
	warmup    time.Duration
	mode      string
	wait      int
	phones    int
	relogin   bool
	fault     string
	create    bool
	jsonOut   string
	sample    time.Duration
	h2c       bool
	phonesH2C bool

	serverBin   string
	serverProcs int
	db          string
	// dbPIDs are the processes of the database started here, read at each
	// snapshot (PostgreSQL starts a process per connection).
	dbPIDs   func() []int
	sceneTTL time.Duration
	// admission is SCANLOGIN_ADMISSION for servers started here ("": the
	// servers' default).
	admission string

	wechatLatency time.Duration // -mode qrmodes: the fake WeChat's getwxacodeunlimit latency

	cpuProfile string

	oidcClient, oidcSecret, oidcRedirect string

	profileDir string // -profile: the servers' profiles of the window
	logLevel   string // -log-level: the servers' SCANLOGIN_LOG_LEVEL
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	var browserTargets, phoneTargets, pids string
	fs.StringVar(&browserTargets, "browser-targets", "", "comma-separated base URLs the browsers use (empty: start servers here)")
	fs.StringVar(&phoneTargets, "phone-targets", "", "comma-separated base URLs the phones use (default: the browser targets)")
	fs.StringVar(&c.redisAddr, "redis", "", "host:port of the servers' Redis, for INFO commandstats (set automatically when servers are started here)")
	fs.StringVar(&pids, "pids", "", "comma-separated server PIDs, for CPU and RSS from /proc (set automatically when servers are started here)")
	fs.IntVar(&c.browsers, "browsers", 1000, "concurrent browsers, each following one scene at a time")
	fs.Float64Var(&c.rate, "rate", 100, "logins per second the phones start (open loop)")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "measured window after warm-up")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "warm-up before the window")
	fs.StringVar(&c.mode, "mode", "longpoll", "longpoll | shortpoll (poll every 1 s without waiting) | compare (both, one after the other at the same load, with their ratios) | oidc (long polls inside an OpenID Connect sign-in: authorize -> scan -> confirm -> code -> token) | qrmodes (time to code of SCANLOGIN_QR_MODE wxacode and link, side by side; -browsers concurrent)")
	fs.DurationVar(&c.wechatLatency, "wechat-latency", 100*time.Millisecond, "-mode qrmodes: how long the fake WeChat takes to answer getwxacodeunlimit")
	fs.StringVar(&c.oidcClient, "oidc-client", oidcClientID, "-mode oidc: client ID (servers started here register it)")
	fs.StringVar(&c.oidcSecret, "oidc-secret", oidcSecret, "-mode oidc: client secret")
	fs.StringVar(&c.oidcRedirect, "oidc-redirect", oidcRedirect, "-mode oidc: the client's registered redirect URI (never fetched)")
	fs.IntVar(&c.wait, "wait", 25, "long-poll wait in seconds")
	fs.IntVar(&c.phones, "phones", 10000, "distinct phone users (scans are rate-limited per user)")
	fs.BoolVar(&c.relogin, "relogin", false, "phones get a wx.login code and log in before every scan, as after a fresh install (default: each phone user logs in once and keeps its token, as the mini-program does)")
	fs.StringVar(&c.fault, "fault", "", "fault in the middle of the window: redis-restart | pubsub-kill | sigterm")
	fs.BoolVar(&c.create, "create", false, "measure scene creation alone: browsers create scenes as fast as they can and never poll")
	fs.StringVar(&c.jsonOut, "json", "", "also write the JSON summary to this file")
	fs.BoolVar(&c.h2c, "h2c", false, "browsers speak HTTP/2 with prior knowledge, many polls per connection, as a proxy in front of the servers does")
	fs.BoolVar(&c.phonesH2C, "phones-h2c", false, "phones speak HTTP/2 with prior knowledge too, all of them over a few connections")
	fs.DurationVar(&c.sample, "sample", 0, "every this often, record Redis keys and each server's heap and goroutines (for soak runs; 0: at start and end only)")
	fs.StringVar(&c.serverBin, "server-bin", "", "scanlogin binary to start (default: go build ./cmd/scanlogin)")
	fs.StringVar(&c.db, "db", "postgres", "database of the servers started here: postgres (a private PostgreSQL with its crash-safe defaults, as deployed), sqlite (one file both share) or none (no SCANLOGIN_DATABASE_URL: for a -server-bin of a Redis-only version, the before-run)")
	fs.IntVar(&c.serverProcs, "server-gomaxprocs", 0, "GOMAXPROCS of the servers started here (0: Go's default, every core)")
	fs.DurationVar(&c.sceneTTL, "scene-ttl", 120*time.Second, "SCANLOGIN_SCENE_TTL for servers started here")
	fs.StringVar(&c.admission, "admission", "", "SCANLOGIN_ADMISSION for servers started here: off, or limit=N,low_wait=D,high_wait=D (empty: the servers' default)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the load generator's own CPU profile to this file (it shares the cores with what it measures)")
	fs.StringVar(&c.profileDir, "profile", "", "servers started here: write each one's CPU and allocation profiles of the measured window to this directory (server-N.cpu.pprof, server-N.allocs.pprof)")
	fs.StringVar(&c.logLevel, "log-level", "info", "SCANLOGIN_LOG_LEVEL of the servers started here (info: one access-log line per request, as deployed; their logs go to files)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.browserTargets = splitList(browserTargets)
	c.phoneTargets = splitList(phoneTargets)
	if len(c.phoneTargets) == 0 {
		c.phoneTargets = c.browserTargets
	}
	for _, p := range splitList(pids) {
		var pid int
		if _, err := fmt.Sscan(p, &pid); err != nil {
			return nil, fmt.Errorf("-pids: %q is not a PID", p)
		}
		c.pids = append(c.pids, pid)
	}
	switch {
	case c.mode != "longpoll" && c.mode != "shortpoll" && c.mode != "compare" && c.mode != "oidc" && c.mode != "qrmodes":
		return nil, fmt.Errorf("-mode: %q is not longpoll, shortpoll, compare, oidc or qrmodes", c.mode)
	case c.mode == "oidc" && (c.create || c.fault != ""):
		return nil, errors.New("-mode oidc: not with -create or -fault")
	case c.mode == "qrmodes" && (c.create || c.fault != "" || len(c.browserTargets) > 0):
		return nil, errors.New("-mode qrmodes: starts its own servers; not with -create, -fault or -browser-targets")
	case c.wechatLatency < 0 || c.wechatLatency > 10*time.Second:
		return nil, errors.New("-wechat-latency: 0 to 10s")
	case c.mode == "compare" && (c.create || c.fault != ""):
		return nil, errors.New("-mode compare: not with -create or -fault")
	case c.browsers < 1 || c.browsers > 15000:
		return nil, errors.New("-browsers: between 1 and 15000 (the process may hold about 20,000 files)")
	case c.rate <= 0 || c.rate > 5000:
		return nil, errors.New("-rate: above 0 and at most 5000 logins/s")
	case c.duration <= 0 || c.duration > 30*time.Minute:
		return nil, errors.New("-duration: above 0 and at most 30m")
	case c.serverProcs < 0 || c.serverProcs > 64:
		return nil, errors.New("-server-gomaxprocs: 0 to 64")
	case c.db != "postgres" && c.db != "sqlite" && c.db != "none":
		return nil, fmt.Errorf("-db: %q is not postgres, sqlite or none", c.db)
	case c.profileDir != "" && len(c.browserTargets) > 0:
		return nil, errors.New("-profile needs the servers started here (no -browser-targets)")
	case c.logLevel != "debug" && c.logLevel != "info" && c.logLevel != "warn" && c.logLevel != "error":
		return nil, fmt.Errorf("-log-level: %q is not debug, info, warn or error", c.logLevel)
	case c.wait < 1 || c.wait > 30:
		return nil, errors.New("-wait: 1 to 30 seconds")
	case c.fault != "" && c.fault != "redis-restart" && c.fault != "pubsub-kill" && c.fault != "sigterm":
		return nil, fmt.Errorf("-fault: unknown %q", c.fault)
	case c.fault != "" && c.fault != "pubsub-kill" && len(c.browserTargets) > 0:
		return nil, fmt.Errorf("-fault %s needs the servers started here (no -browser-targets)", c.fault)
	}
	for _, u := range append(append([]string{}, c.browserTargets...), c.phoneTargets...) {
		if !loopback(u) {
			return nil, fmt.Errorf("target %q is not on loopback: loadgen only drives local servers", u)
		}
	}
	return c, nil
}

// runOnce runs one load, on servers started for it unless targets are given.
func runOnce(ctx context.Context, cfg *config, stderr io.Writer) (*summary, error) {
	if len(cfg.browserTargets) == 0 {
		cl, err := startCluster(ctx, cfg, stderr)
		if err != nil {
			return nil, err
		}
		defer cl.close()
		cfg.browserTargets = []string{cl.instances[0].url}
		cfg.phoneTargets = []string{cl.instances[1].url}
		if cfg.fault == "sigterm" {
			// Browsers and phones on both, so one can go away under them
			// and they carry on on the other.
			cfg.browserTargets = []string{cl.instances[0].url, cl.instances[1].url}
			cfg.phoneTargets = []string{cl.instances[1].url, cl.instances[0].url}
		}
		cfg.redisAddr = cl.redis.addr
		cfg.pids = cl.pids()
		cfg.dbPIDs = cl.dbPIDs
		return runLoad(ctx, cfg, cl, stderr)
	}
	return runLoad(ctx, cfg, nil, stderr)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.TrimRight(p, "/"))
		}
	}
	return out
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: -cpuprofile:", err)
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}

	var out any
	if cfg.mode == "qrmodes" {
		sum, err := runQRModes(ctx, cfg, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		out = sum
	} else if cfg.mode == "compare" {
		// The baseline in the same run: the same load, long polls first,
		// then 1 s short polls, each on servers of its own.
		var c comparison
		for _, mode := range []string{"longpoll", "shortpoll"} {
			run := *cfg
			run.mode = mode
			fmt.Fprintf(stderr, "loadgen: compare: %s\n", mode)
			sum, err := runOnce(ctx, &run, stderr)
			if err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
				return 1
			}
			if mode == "longpoll" {
				c.LongPoll = sum
			} else {
				c.ShortPoll = sum
			}
		}
		c.ratios()
		c.print(stderr)
		out = &c
	} else {
		sum, err := runOnce(ctx, cfg, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		printKinds(stderr, sum.ByKind)
		out = sum
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintln(stdout, string(b))
	if cfg.jsonOut != "" {
		if err := os.WriteFile(cfg.jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	}
	return 0
}
