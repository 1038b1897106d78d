package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// BenchmarkWaitingPollMemory: the live heap and goroutine stack that one
// waiting long poll holds in the server, over h2c (HTTP/2 streams, as
// deploy's Caddy reaches the replicas) and over HTTP/1.1 (a connection per
// poll) (docs/ARCHITECTURE.md#waiting). The client writes raw frames and
// request lines, so it costs the process nearly nothing per poll; the
// figures are the growth from the first half of the polls to all of them,
// after collecting garbage, which leaves out one-off costs such as the
// Redis pool. Loadgen's RSS per idle waiter adds the garbage a real run has
// not yet collected. One experiment per invocation: run with
// -benchtime=1x.
func BenchmarkWaitingPollMemory(b *testing.B) {
	for _, proto := range []string{"h2c", "http1"} {
		b.Run(proto, func(b *testing.B) {
			const n = 2000
			inst := servertest.Start(b, servertest.Options{})
			polls := make([]string, n) // the request targets, with their tokens
			for i := range polls {
				s, tok, err := inst.Engine.CreateScene(context.Background(), scanlogin.NewScene{BrowserIP: "198.18.0.1", BrowserUserAgent: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				polls[i] = s.ID + " " + tok
			}
			open := openH1Polls
			if proto == "h2c" {
				open = openH2CPolls
			}
			var half, all runtime.MemStats
			for range b.N {
				conns := open(b, inst, polls[:n/2])
				waitForPolls(b, inst, n/2)
				settledMemStats(&half)
				conns = append(conns, open(b, inst, polls[n/2:])...)
				waitForPolls(b, inst, n)
				settledMemStats(&all)
				for _, c := range conns {
					_ = c.Close()
				}
				break // one experiment per invocation
			}
			per := func(a, h uint64) float64 { return (float64(a) - float64(h)) / (n / 2) }
			b.ReportMetric(per(all.HeapAlloc, half.HeapAlloc), "heap-B/poll")
			b.ReportMetric(per(all.StackInuse, half.StackInuse), "stack-B/poll")
		})
	}
}

// openH2CPolls sends the polls as HTTP/2 streams with prior knowledge,
// 250 to a connection (the server's stream limit), with the headers a
// proxy adds, and discards what comes back.
func openH2CPolls(b *testing.B, inst *servertest.Instance, polls []string) []net.Conn {
	host := strings.TrimPrefix(inst.URL, "http://")
	var conns []net.Conn
	for start := 0; start < len(polls); start += 250 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		bw := bufio.NewWriter(c)
		_, _ = io.WriteString(bw, http2.ClientPreface)
		fr := http2.NewFramer(bw, nil)
		_ = fr.WriteSettings()
		var block bytes.Buffer
		enc := hpack.NewEncoder(&block)
		for i, p := range polls[start:min(start+250, len(polls))] {
			id, tok, _ := strings.Cut(p, " ")
			block.Reset()
			for _, f := range [][2]string{
				{":method", "GET"}, {":scheme", "http"}, {":authority", host},
				{":path", "/api/v1/qr/" + id + "/state?since=1&wait=30"},
				{"authorization", "Bearer " + tok}, {"user-agent", "bench"},
				{"x-forwarded-for", "198.18.0.1"}, {"accept-encoding", "gzip"},
			} {
				_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
		}
		if err := bw.Flush(); err != nil {
			b.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, c) }()
	}
	return conns
}

// openH1Polls sends each poll on a connection of its own.
func openH1Polls(b *testing.B, inst *servertest.Instance, polls []string) []net.Conn {
	host := strings.TrimPrefix(inst.URL, "http://")
	conns := make([]net.Conn, 0, len(polls))
	for _, p := range polls {
		id, tok, _ := strings.Cut(p, " ")
		c, err := net.Dial("tcp", host)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "GET /api/v1/qr/%s/state?since=1&wait=30 HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"User-Agent: bench\r\nX-Forwarded-For: 198.18.0.1\r\nAccept-Encoding: gzip\r\n\r\n", id, host, tok); err != nil {
			b.Fatal(err)
		}
	}
	return conns
}

// waitForPolls waits until the server counts n waiting polls.
func waitForPolls(b *testing.B, inst *servertest.Instance, n int) {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	gauge := regexp.MustCompile(`(?m)^scanlogin_waiting_polls (\S+)$`)
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := hc.Get(inst.URL + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got := 0.0
		if m := gauge.FindSubmatch(body); m != nil {
			got, _ = strconv.ParseFloat(string(m[1]), 64)
		}
		if int(got) >= n {
			time.Sleep(500 * time.Millisecond) // counted before its first read: let the reads end
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%v polls waiting after a minute, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settledMemStats reads the memory statistics after two collections, so
// that garbage is gone and sleeping stacks have shrunk.
func settledMemStats(m *runtime.MemStats) {
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(m)
}
