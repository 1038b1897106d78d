// Package sqlstoretest starts private, real PostgreSQL servers for tests.
//
// A server listens only on a unix socket in its own temporary directory, so
// it never touches a PostgreSQL that may run on 5432. Running as root, the
// server runs as the "postgres" OS user (PostgreSQL refuses root). initdb
// runs once per test binary and every server starts from a copy of that
// cluster; fsync is off and buffers are small, so a server is up in well under
// a second. When the PostgreSQL binaries are missing the test is skipped on a
// developer's machine but fails when CI is set, as scanlogin/scanlogintest
// does for redis-server.
//
// StartServer starts one outside a test (cmd/loadgen), optionally with
// PostgreSQL's crash-safe defaults, as deployed.
package sqlstoretest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is one private PostgreSQL server.
type Postgres struct {
	tb   testing.TB // nil outside a test
	bin  string
	dir  string // socket directory, log and data/ inside
	own  *owner
	opts ServerOptions

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	nextDB  atomic.Int64
	removed bool
}

// owner is the OS user the server runs as when the tests run as root.
type owner struct{ uid, gid uint32 }

// Start launches a private server for this test and stops it, removing its
// files, when the test ends. Use it for tests that stop and restart the
// server; others share one server through Database.
func Start(tb testing.TB) *Postgres {
	tb.Helper()
	p, err := start(tb, BinDir(tb), ServerOptions{})
	if err != nil {
		tb.Fatalf("sqlstoretest: %v", err)
	}
	tb.Cleanup(p.remove)
	return p
}

// BinDir returns the directory holding initdb and postgres, skipping the
// test when there is none outside CI and failing it inside CI.
func BinDir(tb testing.TB) string {
	tb.Helper()
	dir, err := binDir()
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("sqlstoretest: PostgreSQL server binaries not found and CI is set: %v", err)
		}
		tb.Skipf("sqlstoretest: PostgreSQL server binaries not found (install the Debian package postgresql): %v", err)
	}
	return dir
}

func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	// Debian and Ubuntu keep them off PATH, one directory per major version;
	// take the newest.
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no initdb on PATH or in /usr/lib/postgresql/*/bin")
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

var (
	shared struct {
		mu  sync.Mutex
		p   *Postgres
		err error
	}
	template struct {
		once sync.Once
		dir  string
		err  error
	}
)

// Database creates an empty database on the test binary's shared server
// (started on first use) and returns its URL. The shared server is stopped by
// Main, which the package's TestMain must call.
func Database(tb testing.TB) string {
	tb.Helper()
	bin := BinDir(tb)
	shared.mu.Lock()
	if shared.p == nil && shared.err == nil {
		shared.p, shared.err = start(tb, bin, ServerOptions{})
	}
	p, err := shared.p, shared.err
	shared.mu.Unlock()
	if err != nil {
		tb.Fatalf("sqlstoretest: shared server: %v", err)
	}
	return p.CreateDatabase(tb)
}

// Main runs the tests and then stops the shared server and removes the
// initdb template. Call it from TestMain: os.Exit(sqlstoretest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.p != nil {
		shared.p.remove()
	}
	shared.mu.Unlock()
	if template.dir != "" {
		_ = os.RemoveAll(template.dir)
	}
	return code
}

// CreateDatabase creates an empty database and returns its URL.
func (p *Postgres) CreateDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t%d", p.nextDB.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		tb.Fatalf("sqlstoretest: connect: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("sqlstoretest: create database: %v", err)
	}
	return p.URL(name)
}

// URL is the postgres:// URL of a database on the server, over its socket.
func (p *Postgres) URL(database string) string {
	q := url.Values{"host": {p.dir}, "sslmode": {"disable"}}
	return "postgres://postgres@/" + database + "?" + q.Encode()
}

// Dir is the server's socket directory.
func (p *Postgres) Dir() string { return p.dir }

// ServerOptions tune a server of StartServer.
type ServerOptions struct {
	// Durable keeps PostgreSQL's crash-safe defaults (fsync, synchronous
	// commit, full-page writes) and its default shared buffers, as
	// deployed: for benchmarks. Tests run without, for speed.
	Durable bool
}

// StartServer starts a private server outside a test (its own initdb, no
// shared template). Close stops it and removes its files. Errors: no
// PostgreSQL binaries, or a server that does not start.
func StartServer(opts ServerOptions) (*Postgres, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	return start(nil, bin, opts)
}

// Close stops a server of StartServer and removes its files.
func (p *Postgres) Close() { p.remove() }

// PIDs are the server's processes (the postmaster and its children), for
// measuring their CPU.
func (p *Postgres) PIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	return append([]int{p.cmd.Process.Pid}, childrenOf(p.cmd.Process.Pid)...)
}

// NewDatabase creates an empty database and returns its URL.
func (p *Postgres) NewDatabase(ctx context.Context, name string) (string, error) {
	c, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return p.URL(name), nil
}

func start(tb testing.TB, bin string, opts ServerOptions) (*Postgres, error) {
	own, err := ownerForServer()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sqlstoretest-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{tb: tb, bin: bin, dir: dir, own: own, opts: opts}
	if err := p.chown(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if tb == nil {
		// Outside tests there is no Main to remove a shared template.
		err = initdb(bin, own, filepath.Join(dir, "data"))
	} else {
		var tpl string
		if tpl, err = templateCluster(bin, own); err == nil {
			// cp -a keeps owner and modes; PostgreSQL insists on a 0700
			// data dir.
			if out, cerr := exec.Command("cp", "-a", tpl, filepath.Join(dir, "data")).CombinedOutput(); cerr != nil {
				err = fmt.Errorf("copy cluster: %v: %s", cerr, out)
			}
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := p.chown(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := p.launch(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// ownerForServer is nil when not root; as root it is the postgres user (or
// nobody).
func ownerForServer() (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		return &owner{uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody user exists to run the server")
}

func templateCluster(bin string, own *owner) (string, error) {
	template.once.Do(func() {
		dir, err := os.MkdirTemp("", "sqlstoretest-initdb-")
		if err != nil {
			template.err = err
			return
		}
		template.dir = dir
		p := &Postgres{own: own}
		if template.err = p.chown(dir); template.err != nil {
			return
		}
		template.err = initdb(bin, own, filepath.Join(dir, "data"))
	})
	if template.err != nil {
		return "", template.err
	}
	return filepath.Join(template.dir, "data"), nil
}

// initdb creates a cluster in dataDir (whose parent the owner may write).
func initdb(bin string, own *owner, dataDir string) error {
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", dataDir,
		"-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C")
	(&Postgres{own: own}).setCredentials(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

func (p *Postgres) chown(dir string) error {
	if p.own == nil {
		return nil
	}
	if err := os.Chown(dir, int(p.own.uid), int(p.own.gid)); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	return nil
}

func (p *Postgres) setCredentials(cmd *exec.Cmd) {
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	setProcAttr(cmd, p.own)
}

func (p *Postgres) launch() error {
	logf, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{
		"-D", filepath.Join(p.dir, "data"),
		"-k", p.dir,
		"-c", "listen_addresses=",
		"-c", "max_connections=300",
		"-c", "log_min_messages=warning",
	}
	if !p.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "shared_buffers=16MB", "-c", "max_wal_size=256MB")
	}
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), args...)
	p.setCredentials(cmd)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("postgres exited; log: %s", p.logTail())
		default:
		}
		if p.ping() == nil {
			p.mu.Lock()
			p.cmd, p.exited = cmd, exited
			p.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("postgres did not answer in %s; log: %s", p.dir, p.logTail())
}

func (p *Postgres) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

func (p *Postgres) logPath() string { return filepath.Join(p.dir, "postgres.log") }

func (p *Postgres) logTail() string {
	b, _ := os.ReadFile(p.logPath())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// Stop shuts the server down (fast shutdown: open connections are closed)
// and waits until it is gone. Its data stays for Restart. Safe to call more
// than once.
func (p *Postgres) Stop() {
	p.Resume() // a paused server would never shut down
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
	}
}

// Pause freezes the server and all its backends (SIGSTOP): connections
// stay open and new ones are accepted by the kernel, but nothing answers, as
// with a hung host. Resume undoes it; Stop resumes first. Linux only (it
// finds the backends in /proc).
func (p *Postgres) Pause() { p.signalAll(syscall.SIGSTOP) }

// Resume lets a paused server run again.
func (p *Postgres) Resume() { p.signalAll(syscall.SIGCONT) }

// signalAll signals the postmaster and its children: each backend is in a
// session of its own, so the process group is not enough.
func (p *Postgres) signalAll(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, sig)
	for _, child := range childrenOf(pid) {
		_ = syscall.Kill(child, sig)
	}
}

func childrenOf(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out = append(out, child)
		}
	}
	return out
}

// Restart starts the server again after Stop, on the same socket and data.
func (p *Postgres) Restart() {
	p.tb.Helper()
	if err := p.launch(); err != nil {
		p.tb.Fatalf("sqlstoretest: restart: %v", err)
	}
}

func (p *Postgres) remove() {
	p.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.removed {
		p.removed = true
		_ = os.RemoveAll(p.dir)
	}
}
