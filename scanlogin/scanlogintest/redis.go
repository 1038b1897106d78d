// Package scanlogintest starts private, real redis-server processes for tests.
//
// Every test that needs Redis gets its own server on a free loopback port in a
// temporary directory, killed when the test ends. It never touches the Redis
// that may already run on 6379. When redis-server is missing the test is
// skipped on a developer's machine but fails when CI is set, so CI can never
// pass by proving nothing.
package scanlogintest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one private redis-server process.
type Server struct {
	tb   testing.TB
	dir  string
	port int
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start launches a redis-server on a free loopback port and stops it when the
// test ends. Extra arguments are passed to redis-server as they are (for
// example "--cluster-enabled", "yes").
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin := Binary(tb)
	s := &Server{tb: tb, dir: tb.TempDir(), args: args}
	var err error
	// A freed port can be taken by someone else before redis binds it; try a
	// few times rather than fail on a race that is not ours.
	for range 5 {
		s.port = freePort(tb)
		if err = s.start(bin); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("scanlogintest: start redis-server: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Binary returns the redis-server path, skipping the test when it is absent
// outside CI and failing it inside CI.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("scanlogintest: redis-server not found and CI is set: %v", err)
		}
		tb.Skipf("scanlogintest: redis-server not found: %v", err)
	}
	return bin
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("scanlogintest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) start(bin string) error {
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
		"--maxclients", "20000",
	}, s.args...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited: %v; log: %s", err, s.logTail())
		default:
		}
		if s.ping(cmd.Process.Pid) == nil {
			s.mu.Lock()
			s.cmd = cmd
			s.mu.Unlock()
			go func() { <-exited }() // reap later exits without blocking
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return fmt.Errorf("redis-server did not answer on port %d; log: %s", s.port, s.logTail())
}

// ping checks that the redis-server of process pid answers on the port. A
// PONG alone is not enough: when ours could not bind the port, another
// test's server that holds it answers, and the test would share its data.
func (s *Server) ping(pid int) error {
	c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if !strings.HasPrefix(head, "$") || err != nil {
		return fmt.Errorf("unexpected reply %q", head)
	}
	info := make([]byte, n)
	if _, err := io.ReadFull(r, info); err != nil {
		return err
	}
	if !strings.Contains(string(info), "\r\nprocess_id:"+strconv.Itoa(pid)+"\r\n") {
		return fmt.Errorf("another redis-server (not process %d) answers on port %d", pid, s.port)
	}
	return nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a new go-redis client for the server, closed when the test
// ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop kills the server. It is safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	// Wait until the port is released so a Restart can bind it again.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && s.ping(cmd.Process.Pid) == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart starts the server again on the same port after Stop, with an empty
// data set (the server keeps nothing on disk).
func (s *Server) Restart() {
	s.tb.Helper()
	var err error
	for range 50 {
		if err = s.start(Binary(s.tb)); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.tb.Fatalf("scanlogintest: restart redis-server: %v", err)
}

// CommandCalls returns the number of calls per command from INFO
// commandstats, for counting the Redis work an operation costs.
func (s *Server) CommandCalls(ctx context.Context, tb testing.TB) map[string]int64 {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		tb.Fatalf("scanlogintest: INFO commandstats: %v", err)
	}
	return ParseCommandStats(info)
}

// ParseCommandStats turns the text of INFO commandstats into calls per
// command name.
func ParseCommandStats(info string) map[string]int64 {
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, field := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			if k == "calls" {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out
}
