package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// A long poll that must sleep on an HTTP/1.1 connection is parked: the
// connection is taken from net/http (hijacked) and the wait goes on in a
// goroutine of its own with a shallow stack, which answers on the raw
// connection and then gives it back to net/http for the browser's next
// request (returnListener). net/http would otherwise hold, per waiting
// browser, 4 + 4 KB of connection buffers, a 2 KB response buffer, a
// background reader goroutine and the connection's goroutine with an 8 KB
// stack (its own frame is deep enough that Go never halves it): 32 KB per
// waiter against 10 KB parked (docs/BENCHMARKS.md). HTTP/2 polls are streams
// without those costs and sleep in their handler as before.
//
// What a parked poll gives up: nothing notices a browser that leaves before
// its answer, so its wait runs to its end (at most 30 s) before the write
// fails; its access log line and metrics come when it is answered.

// errParked tells the envelope that the handler gave its request to a
// parked poll, which logs and counts it itself.
var errParked = errors.New("poll parked")

// parked is a sleeping poll off net/http: what it needs to answer later.
type parked struct {
	s      *Server
	w      *scanlogin.Waiter
	conn   net.Conn
	req    *http.Request
	header http.Header // set by the middleware before the handler
	route  string
	since  int64
	start  time.Time
	// keep: the connection goes back to net/http after the answer. Not
	// when the browser sent more than its request (net/http's buffer that
	// held it is gone) or nothing can take it back (no returnListener).
	keep bool
}

// park hands a poll that must sleep on an HTTP/1.1 connection to a goroutine
// of its own. It reports false, with nothing changed, when the poll cannot
// be parked (HTTP/2, or a connection that cannot be hijacked).
func (s *Server) park(c echo.Context, w *scanlogin.Waiter, since int64) bool {
	req := c.Request()
	if req.ProtoMajor != 1 || !s.parked.add() {
		return false
	}
	conn, buf, err := http.NewResponseController(c.Response().Writer).Hijack()
	if err != nil {
		s.parked.done()
		return false
	}
	w.Detach()
	p := &parked{
		s:      s,
		w:      w,
		conn:   conn,
		req:    req.WithContext(context.WithoutCancel(req.Context())),
		header: maps.Clone(c.Response().Header()),
		route:  c.Path(),
		since:  since,
		start:  time.Now(), // the access log's duration is the sleep's and the answer's
		keep:   s.returns != nil && buf.Reader.Buffered() == 0,
	}
	go p.sleep()
	return true
}

// sleep waits and answers. The engine's Close wakes it, like every waiter.
func (p *parked) sleep() {
	defer p.s.parked.done()
	defer func() {
		// The envelope's recover is not above this goroutine.
		if r := recover(); r != nil {
			p.s.log.Error("panic in a parked poll", "err", fmt.Sprint(r), "request_id", p.header.Get(echo.HeaderXRequestID))
			_ = p.conn.Close()
		}
	}()
	sc, err := p.w.Sleep(context.Background())
	p.s.metrics.waitingPolls.Dec()
	rec := &recorder{header: p.header}
	c := p.s.echo.NewContext(p.req, rec)
	c.SetPath(p.route)
	if err == nil {
		err = p.s.answerState(c, sc, p.since)
	}
	if err != nil {
		p.s.echo.HTTPErrorHandler(err, c)
	}
	p.s.finish(c, time.Since(p.start), err)
	keep := p.keep && !p.s.draining.Load()
	// One write: Response.Write writes each header line piece by piece.
	var out bytes.Buffer
	_ = rec.response(p.req, keep).Write(&out)
	_ = p.conn.SetWriteDeadline(time.Now().Add(parkedWriteTimeout))
	if _, err := p.conn.Write(out.Bytes()); err != nil || !keep {
		_ = p.conn.Close()
		return
	}
	_ = p.conn.SetDeadline(time.Time{})
	p.s.returns.giveBack(p.conn)
}

// parking counts the parked polls, so that shutdown can wait for their
// answers: net/http's Shutdown no longer knows their connections.
type parking struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// add counts one more parked poll, unless shutdown is waiting already.
func (p *parking) add() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	return true
}

func (p *parking) done() { p.wg.Done() }

// closeAndWait parks no more polls and waits until those parked have
// answered or ctx ends.
func (p *parking) closeAndWait(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	answered := make(chan struct{})
	go func() { p.wg.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-ctx.Done():
	}
}

// parkedWriteTimeout bounds the write of a parked poll's answer.
const parkedWriteTimeout = 10 * time.Second

// recorder is the http.ResponseWriter of a parked poll's answer: it keeps
// the response to write it on the raw connection in one go.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// response is what the recorder holds, as an HTTP/1.1 response.
func (r *recorder) response(req *http.Request, keepAlive bool) *http.Response {
	r.WriteHeader(http.StatusOK)
	r.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	return &http.Response{
		StatusCode:    r.status,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.header,
		Body:          io.NopCloser(&r.body),
		ContentLength: int64(r.body.Len()),
		Close:         !keepAlive,
		Request:       req,
	}
}

// returnListener is the listener Run serves on: it also hands net/http the
// connections of answered parked polls, which net/http then serves as new
// ones (fresh buffers, the browser's next request read from the socket).
//
// Until the browser's next request starts, such a connection is idle in
// truth but "new" to net/http, which Shutdown waits up to 5 s for; Close
// therefore closes the returned connections that no request has started on
// yet, as Shutdown does with idle ones (Server.HTTPServer's ConnState
// reports the start, through settled).
type returnListener struct {
	net.Listener
	accepted chan accepted
	back     chan net.Conn
	done     chan struct{}
	once     sync.Once

	mu      sync.Mutex
	pending map[net.Conn]struct{} // returned, no request started on it yet
	// npending is len(pending): settled runs on every state change of
	// every connection, and most of the time nothing is pending.
	npending atomic.Int32
}

type accepted struct {
	conn net.Conn
	err  error
}

func newReturnListener(ln net.Listener) *returnListener {
	l := &returnListener{
		Listener: ln,
		accepted: make(chan accepted),
		back:     make(chan net.Conn, 256),
		done:     make(chan struct{}),
		pending:  map[net.Conn]struct{}{},
	}
	go l.acceptLoop()
	return l
}

// acceptLoop accepts from the real listener; Accept picks from both.
func (l *returnListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				_ = c.Close()
			}
			return
		}
	}
}

func (l *returnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.back:
		return c, nil
	case a := <-l.accepted:
		return a.conn, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *returnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	err := l.Listener.Close()
	l.mu.Lock()
	for c := range l.pending {
		_ = c.Close()
	}
	l.pending = nil
	l.mu.Unlock()
	return err
}

// giveBack hands c to net/http, or closes it when nothing will take it.
func (l *returnListener) giveBack(c net.Conn) {
	l.mu.Lock()
	open := l.pending != nil
	if open {
		l.pending[c] = struct{}{}
		l.npending.Store(int32(len(l.pending)))
	}
	l.mu.Unlock()
	if !open {
		_ = c.Close()
		return
	}
	select {
	case l.back <- c:
	default:
		l.settled(c)
		_ = c.Close() // net/http is not accepting
	}
}

// settled is told of every connection net/http moves past StateNew.
func (l *returnListener) settled(c net.Conn) {
	if l.npending.Load() == 0 {
		return
	}
	l.mu.Lock()
	delete(l.pending, c)
	l.npending.Store(int32(len(l.pending)))
	l.mu.Unlock()
}
