package server_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// A long poll sleeping over h2c keeps 4 KB of stack: Go halves a sleeping
// goroutine's stack at GC only while it uses less than a quarter of it, and
// the frames live under the sleep (see envelope, sceneState, Waiter) stay
// just under the 1,248 bytes that allows (2,048 less the 800-byte guard the
// runtime counts as used). A new middleware around next, or a
// bigger frame anywhere on that path, would silently make it 8 KB per
// waiting browser; this test measures it.
//
// It measures in a child process (this test binary again): in a process
// that has run other tests, new stacks reuse free slots of stack spans
// already counted, and Go sizes new goroutines' stacks from the average it
// saw at past GCs; repeated runs in one process read 2.4 instead of 4 KB.
func TestWaitingPollStackH2C(t *testing.T) {
	if os.Getenv(stackChildEnv) != "" {
		measureWaitingPollStack(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWaitingPollStackH2C$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), stackChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the measuring child process: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if _, msg, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && strings.Contains(msg, "waiting polls:") {
			t.Log(msg)
		}
	}
}

const stackChildEnv = "SCANLOGIN_STACK_TEST_CHILD"

// measureWaitingPollStack parks the polls and measures their stacks. They
// are sent with a bare http2.Framer from the test goroutine, so that no
// client goroutine per request muddies the numbers: the only goroutines
// they add are the server's handlers.
func measureWaitingPollStack(t *testing.T) {
	const polls = 1000
	in := servertest.Start(t, servertest.Options{})
	ctx := context.Background()

	type poll struct{ id, token string }
	ps := make([]poll, polls)
	for i := range ps {
		sc, tok, err := in.Engine.CreateScene(ctx, scanlogin.NewScene{})
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = poll{sc.ID, tok}
	}

	// The polls go to a second http.Server made as Run makes its own, so
	// that the race build can run it under padStack. Net/http's HTTP/2
	// server takes 250 concurrent streams per connection: the polls share as
	// few connections as that allows, all opened (with their two server
	// goroutines each) before the baseline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := in.Server.HTTPServer()
	hs.Handler = padStack(hs.Handler)
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	host := ln.Addr().String()
	var conns []*h2Conn
	for len(conns)*maxStreamsPerConn < polls {
		c := dialH2C(t, host)
		conns = append(conns, c)
		t.Cleanup(func() { c.nc.Close() })
	}

	stacks0, g0 := settledStacks()
	// In batches: a thousand polls at once would queue for the Redis pool,
	// and one whose first read takes over a second is answered, not parked.
	const batch = 100
	for i, p := range ps {
		c := conns[i/maxStreamsPerConn]
		c.get(t, "/api/v1/qr/"+p.id+"/state?since=1&wait=30", p.token)
		if (i+1)%batch == 0 || i+1 == polls {
			flush(t, conns)
			waitSleeping(t, i+1)
		}
	}
	stacks1, g1 := settledStacks()
	if got := waitingGauge(in); got != strconv.Itoa(polls) {
		t.Errorf("scanlogin_waiting_polls is %q, want %d", got, polls)
	}

	grown := int64(stacks1) - int64(stacks0)
	perPoll := float64(grown) / polls
	t.Logf("%d waiting polls: +%d goroutines, +%d B of stacks: %.0f B per poll (race detector: %v)",
		polls, g1-g0, grown, perPoll, raceEnabled)
	if g1-g0 < polls || g1-g0 > polls+polls/20 {
		t.Errorf("%d waiting polls added %d goroutines, want one each", polls, g1-g0)
	}
	if perPoll > maxStackPerPoll {
		t.Errorf("a waiting poll keeps %.0f B of stack (%d polls, +%d B after GC), want at most %d: "+
			"a frame added under the sleep (a middleware around next? see envelope) keeps its stack from halving",
			perPoll, polls, grown, maxStackPerPoll)
	}

	// Cancel every poll and check that their goroutines end.
	for _, c := range conns {
		for id := uint32(1); id < c.next; id += 2 {
			if err := c.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(t, conns)
	waitSleeping(t, 0)
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > g0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 5s after the polls were cancelled, %d before they started", runtime.NumGoroutine(), g0)
		}
	}
}

// waitingGauge reads scanlogin_waiting_polls from the instance's /metrics.
func waitingGauge(in *servertest.Instance) string {
	rec := httptest.NewRecorder()
	in.Server.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(line, "scanlogin_waiting_polls "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// maxStreamsPerConn is net/http's default SETTINGS_MAX_CONCURRENT_STREAMS;
// dialH2C checks that the server announces it.
const maxStreamsPerConn = 250

// h2Conn is a client HTTP/2 connection driven from one goroutine.
type h2Conn struct {
	nc   net.Conn
	bw   *bufio.Writer
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
	host string
	next uint32 // the next stream ID
}

// dialH2C opens an h2c connection with prior knowledge and completes the
// SETTINGS exchange.
func dialH2C(t *testing.T, host string) *h2Conn {
	t.Helper()
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	c := &h2Conn{nc: nc, bw: bufio.NewWriter(nc), host: host, next: 1}
	c.fr = http2.NewFramer(c.bw, bufio.NewReader(nc))
	c.enc = hpack.NewEncoder(&c.hbuf)
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := c.bw.Flush(); err != nil {
		t.Fatal(err)
	}
	for gotSettings, gotAck := false, false; !gotSettings || !gotAck; {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("h2c handshake: %v", err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		switch {
		case !ok:
		case sf.IsAck():
			gotAck = true
		default:
			gotSettings = true
			if v, ok := sf.Value(http2.SettingMaxConcurrentStreams); ok && v < maxStreamsPerConn {
				t.Fatalf("the server takes %d streams per connection, want at least %d", v, maxStreamsPerConn)
			}
			if err := c.fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			if err := c.bw.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

// get buffers a GET request on a new stream (the caller flushes c.bw).
func (c *h2Conn) get(t *testing.T, path, bearer string) {
	t.Helper()
	c.hbuf.Reset()
	u := url.URL{Scheme: "http", Host: c.host}
	for _, hf := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"},
		{Name: ":scheme", Value: u.Scheme},
		{Name: ":authority", Value: u.Host},
		{Name: ":path", Value: path},
		{Name: "authorization", Value: "Bearer " + bearer},
	} {
		if err := c.enc.WriteField(hf); err != nil {
			t.Fatal(err)
		}
	}
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: c.next, BlockFragment: c.hbuf.Bytes(), EndStream: true, EndHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	c.next += 2
}

// flush sends what is buffered on each connection.
func flush(t *testing.T, conns []*h2Conn) {
	t.Helper()
	for _, c := range conns {
		if err := c.bw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// settledStacks runs GC until goroutine stacks stop shrinking (each GC
// halves a shrinkable stack once) and returns the bytes of heap reserved
// for stacks and the number of goroutines.
func settledStacks() (stacks uint64, goroutines int) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	var last uint64
	for i := 0; i < 10; i++ {
		runtime.GC()
		metrics.Read(s)
		if v := s[0].Value.Uint64(); i >= 3 && v == last {
			break
		} else {
			last = v
		}
	}
	return last, runtime.NumGoroutine()
}

// waitSleeping waits until exactly n goroutines sleep in Waiter.Sleep.
func waitSleeping(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		k := runtime.Stack(buf, true)
		for k == len(buf) {
			buf = make([]byte, 2*len(buf))
			k = runtime.Stack(buf, true)
		}
		got := strings.Count(string(buf[:k]), "scanlogin.(*Waiter).Sleep(")
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d polls sleep in Waiter.Sleep after 10s, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
