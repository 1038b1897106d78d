package server_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// hangProxy forwards TCP to Redis until frozen; frozen, it keeps every
// connection open and answers nothing: a Redis that hangs rather than one
// that refuses connections.
type hangProxy struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func startHangProxy(t *testing.T, target string) *hangProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *hangProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				dst.Close()
				return
			}
			for p.frozen.Load() {
				time.Sleep(10 * time.Millisecond) // hold the bytes: no answer
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				src.Close()
				return
			}
		}
	}
	go pipe(up, c)
	go pipe(c, up)
}

func (p *hangProxy) url() string { return "redis://" + p.ln.Addr().String() + "/0" }

// TestRedisHangs: a Redis that stops answering (not refusing) still gives
// 503 with Retry-After within 2 s, to waiting polls and other calls alike.
func TestRedisHangs(t *testing.T) {
	rs := scanlogintest.Start(t)
	proxy := startHangProxy(t, rs.Addr())
	inst := servertest.Start(t, servertest.Options{RedisURL: proxy.url()})
	c := newClient(t, inst)
	sc := c.create()
	tok, _ := c.login(inst, "")

	waiting := make(chan *response, 1)
	go func() { waiting <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=25", sc.PollToken, nil) }()
	time.Sleep(200 * time.Millisecond)
	frozen := time.Now()
	proxy.frozen.Store(true)

	check := func(name string, r *response, took time.Duration) {
		t.Helper()
		if r.Status != 503 || r.Header.Get("Retry-After") == "" || took > 2*time.Second {
			t.Errorf("%s: %d after %s: %s", name, r.Status, took, r.Body)
		}
	}
	check("the waiting poll", recvWithin(t, waiting, 5*time.Second), time.Since(frozen))
	for _, tc := range []struct{ name, method, path, token string }{
		{"create", "POST", "/api/v1/qr", ""},
		{"scan", "POST", "/api/v1/qr/" + sc.ID + "/scan", tok},
		{"poll", "GET", "/api/v1/qr/" + sc.ID + "/state?since=1", sc.PollToken},
	} {
		start := time.Now()
		check(tc.name, c.req(tc.method, tc.path, tc.token, nil), time.Since(start))
	}

	proxy.frozen.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for c.req("POST", "/api/v1/qr", "", nil).Status != 201 {
		if time.Now().After(deadline) {
			t.Fatal("no recovery after Redis answered again")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
