package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/server/oidcop"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// hangProxy forwards TCP to Redis until frozen; frozen, it keeps every
// connection open and answers nothing: a Redis that hangs rather than one
// that refuses connections. Bytes sent meanwhile are held and delivered
// when it thaws, as a hung server that recovers would read them.
type hangProxy struct {
	ln     net.Listener
	target string
	// freezeOn, when set, freezes the proxy as soon as a write to Redis
	// contains it, before that write is delivered: Redis hangs in the
	// middle of a request.
	freezeOn atomic.Pointer[[]byte]
	mu       sync.Mutex
	conns    []net.Conn
	thawed   chan struct{} // closed while Redis answers
}

func startHangProxy(t *testing.T, target string) *hangProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangProxy{ln: ln, target: target, thawed: make(chan struct{})}
	close(p.thawed)
	t.Cleanup(func() {
		ln.Close()
		p.thaw()
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

// gate is closed while Redis answers.
func (p *hangProxy) gate() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.thawed
}

func (p *hangProxy) frozen() bool {
	select {
	case <-p.gate():
		return false
	default:
		return true
	}
}

func (p *hangProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default:
	}
}

func (p *hangProxy) thaw() {
	p.freezeOn.Store(nil)
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
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
	pipe := func(dst, src net.Conn, toRedis bool) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				dst.Close()
				return
			}
			if on := p.freezeOn.Load(); toRedis && on != nil && bytes.Contains(buf[:n], *on) {
				p.freeze()
			}
			<-p.gate() // frozen: hold the bytes, answer nothing
			if _, err := dst.Write(buf[:n]); err != nil {
				src.Close()
				return
			}
		}
	}
	go pipe(up, c, true)
	go pipe(c, up, false)
}

func (p *hangProxy) url() string { return "redis://" + p.ln.Addr().String() + "/0" }

// thawAndWait makes Redis answer again and waits until the service does.
func (p *hangProxy) thawAndWait(t *testing.T, c *client) {
	t.Helper()
	p.thaw()
	deadline := time.Now().Add(10 * time.Second)
	for c.req("POST", "/api/v1/qr", "", nil).Status != 201 {
		if time.Now().After(deadline) {
			t.Fatal("no recovery after Redis answered again")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hangClient is the OpenID Connect client of TestRedisHangs.
var hangClient = oidcop.ClientConfig{ID: "hang", Secret: "a-client-secret-for-the-hang-test-000000", RedirectURIs: []string{"http://127.0.0.1:9/cb"}}

// TestRedisHangs: a Redis that stops answering (not refusing) still gives
// every endpoint of a login its refusal within 2 s: 503 with Retry-After
// (docs/ARCHITECTURE.md#redis, "When Redis hangs"), to a waiting poll, to
// calls begun at the moment Redis hung (more of them than the client has
// connections) and to a redeem that Redis leaves between spending its
// scene and writing its session; once Redis answers again, so does the
// service, and that redeem never yields a session to anyone.
func TestRedisHangs(t *testing.T) {
	const bound = 2 * time.Second
	rs := scanlogintest.Start(t)
	proxy := startHangProxy(t, rs.Addr())
	inst := servertest.Start(t, servertest.Options{RedisURL: proxy.url(), Config: &app.Config{OIDCClients: []oidcop.ClientConfig{hangClient}}})
	c := newClient(t, inst)

	// What the calls need, made while Redis answers: a scene to poll and
	// scan; scenes scanned (to confirm, to cancel) and confirmed (to
	// redeem) by the phone tok; a web session of tok's user; a fresh
	// wx.login code.
	sc := c.create()
	tok, _ := c.login(inst, "")
	scanned := func() scene {
		s := c.create()
		c.req("POST", "/api/v1/qr/"+s.ID+"/scan", tok, nil).must(t, 200)
		return s
	}
	confirmed := func() scene {
		s := scanned()
		c.req("POST", "/api/v1/qr/"+s.ID+"/confirm", tok, nil).must(t, 200)
		return s
	}
	toConfirm, toCancel, toRedeem, toAbandon := scanned(), scanned(), confirmed(), c.create()
	web := confirmed()
	red := c.req("POST", "/api/v1/qr/"+web.ID+"/redeem", web.PollToken, nil).must(t, 200)
	access, refresh := red.str("access_token"), red.str("refresh_token")
	code := inst.MintCode(t, newOpenID(), "")
	authorize := url.Values{"client_id": {hangClient.ID}, "redirect_uri": {hangClient.RedirectURIs[0]}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}}
	token := url.Values{"grant_type": {"authorization_code"}, "code": {"0123456789abcdef"}, "redirect_uri": {hangClient.RedirectURIs[0]}}

	// unavailable is the refusal of the API: 503 in its error shape with
	// Retry-After. "overloaded" is honest too while the engine cannot yet
	// tell a hung Redis from a slow process (its subscriber needs about
	// 1.5 s).
	unavailable := func(r *response) bool {
		return r.Status == 503 && r.Header.Get("Retry-After") != "" && (r.errCode() == "unavailable" || r.errCode() == "overloaded")
	}
	// authorizeError: the authorization endpoint sends its errors back to
	// the client's redirect_uri, as OAuth asks (docs/OIDC.md).
	authorizeError := func(r *response) bool {
		loc, err := url.Parse(r.Header.Get("Location"))
		return r.Status == http.StatusFound && err == nil && loc.Query().Get("error") == "server_error"
	}
	// oauthUnavailable: the token endpoint's refusal in OAuth's shape.
	oauthUnavailable := func(r *response) bool {
		return r.Status == 503 && r.Header.Get("Retry-After") != "" && (r.str("error") == "server_error" || r.str("error") == "temporarily_unavailable")
	}
	type call struct {
		name, method, path, token string
		body                      any
		headers                   []string
		want                      func(*response) bool
	}
	calls := []call{
		{"create", "POST", "/api/v1/qr", "", nil, nil, unavailable},
		{"image", "GET", "/api/v1/qr/" + sc.ID + "/image", "", nil, nil, unavailable},
		{"link", "GET", "/api/v1/qr/" + sc.ID + "/link", "", nil, []string{"Accept", "application/json"}, unavailable},
		{"poll", "GET", "/api/v1/qr/" + sc.ID + "/state?since=1&wait=25", sc.PollToken, nil, nil, unavailable},
		{"mp login", "POST", "/api/v1/mp/login", "", map[string]string{"code": code}, nil, unavailable},
		{"mp me", "GET", "/api/v1/mp/me", tok, nil, nil, unavailable},
		{"scan", "POST", "/api/v1/qr/" + sc.ID + "/scan", tok, nil, nil, unavailable},
		{"confirm", "POST", "/api/v1/qr/" + toConfirm.ID + "/confirm", tok, nil, nil, unavailable},
		{"cancel", "POST", "/api/v1/qr/" + toCancel.ID + "/cancel", tok, nil, nil, unavailable},
		{"browser cancel", "DELETE", "/api/v1/qr/" + toAbandon.ID, toAbandon.PollToken, nil, nil, unavailable},
		{"redeem", "POST", "/api/v1/qr/" + toRedeem.ID + "/redeem", toRedeem.PollToken, nil, nil, unavailable},
		{"me", "GET", "/api/v1/me", access, nil, nil, unavailable},
		{"refresh", "POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}, nil, unavailable},
		{"logout", "POST", "/api/v1/session/logout", access, nil, nil, unavailable},
		{"mp sessions", "GET", "/api/v1/mp/sessions", tok, nil, nil, unavailable},
		{"oidc authorize", "GET", oidcop.PathAuthorize + "?" + authorize.Encode(), "", nil, nil, authorizeError},
		{"oidc token", "POST", oidcop.PathToken, "", token.Encode(), []string{"Content-Type", "application/x-www-form-urlencoded",
			"Authorization", "Basic " + basicAuth(hangClient.ID, hangClient.Secret)}, oauthUnavailable},
	}
	// A crowd of scene creations with them, twice as many as the Redis
	// client has connections (10 per core): calls wait for one.
	for range 2 * inst.Client.(*redis.Client).Options().PoolSize {
		calls = append(calls, call{"crowd", "POST", "/api/v1/qr", "", nil, nil, unavailable})
	}
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	type answer struct {
		r    *response
		took time.Duration
		err  error
	}
	answers := make([]answer, len(calls))

	waiting := make(chan *response, 1)
	go func() { waiting <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=25", sc.PollToken, nil) }()
	waitGauge(t, inst, "1") // the poll is waiting when Redis hangs
	hungAt := time.Now()
	proxy.freeze()
	// The calls start with the hang, before the engine can know of it, and
	// all at once (t.Parallel would run two at a time on two cores): the
	// test stays short and the crowd waits for connections. Each call is
	// held to the bound.
	var wg sync.WaitGroup
	for i, tc := range calls {
		wg.Go(func() {
			start := time.Now()
			r, err := send(noRedirects, inst.URL, tc.method, tc.path, tc.token, tc.body, tc.headers...)
			answers[i] = answer{r, time.Since(start), err}
		})
	}
	r := recvWithin(t, waiting, 5*time.Second)
	t.Logf("waiting poll: %d %s after %s", r.Status, r.errCode(), time.Since(hungAt).Round(time.Millisecond))
	if !unavailable(r) || time.Since(hungAt) > bound {
		t.Errorf("the waiting poll: %d after %s: %s", r.Status, time.Since(hungAt), r.Body)
	}
	wg.Wait()
	var slowest time.Duration
	for i, tc := range calls {
		a := answers[i]
		switch {
		case a.err != nil:
			t.Errorf("%s: %v", tc.name, a.err)
			continue
		case tc.name != "crowd":
			t.Logf("%s: %d %s%s after %s", tc.name, a.r.Status, a.r.errCode(), a.r.str("error"), a.took.Round(time.Millisecond))
		}
		slowest = max(slowest, a.took)
		if !tc.want(a.r) || a.took > bound {
			t.Errorf("%s: %d after %s: Retry-After %q, Location %q, %s", tc.name, a.r.Status, a.took,
				a.r.Header.Get("Retry-After"), a.r.Header.Get("Location"), a.r.Body)
		}
	}
	t.Logf("slowest of %d calls: %s", len(calls), slowest.Round(time.Millisecond))
	proxy.thawAndWait(t, c)

	// Redis hangs in the middle of a redeem: the scene is spent, its
	// session cannot be written. The redeem says so at once: 500 "get a new
	// code", not 503 (a retry would only be a replay). When Redis answers
	// again, a replay is refused and the scene has at most the one session
	// nobody holds a token of (docs/ARCHITECTURE.md#storage).
	mid, midTok := c.confirmed(inst)
	pattern := []byte("sess:{") // the session's key: its first write
	proxy.freezeOn.Store(&pattern)
	start := time.Now()
	r = c.req("POST", "/api/v1/qr/"+mid.ID+"/redeem", mid.PollToken, nil)
	took := time.Since(start)
	t.Logf("redeem, Redis hung after the scene was spent: %d %s after %s", r.Status, r.errCode(), took.Round(time.Millisecond))
	if !proxy.frozen() {
		t.Fatal("the redeem wrote no session")
	}
	if r.Status != 500 || r.errCode() != "internal" || took > bound {
		t.Errorf("redeem, Redis hung after the scene was spent: %d after %s: %s", r.Status, took, r.Body)
	}
	proxy.thawAndWait(t, c)
	c.req("POST", "/api/v1/qr/"+mid.ID+"/redeem", mid.PollToken, nil).must(t, 409)
	if ss, _ := c.req("GET", "/api/v1/mp/sessions", midTok, nil).must(t, 200).JSON["sessions"].([]any); len(ss) > 1 {
		t.Errorf("%d sessions of one redeemed scene", len(ss))
	}
}

// send is client.req for a goroutine: it returns transport errors rather
// than failing the test.
func send(hc *http.Client, base, method, path, token string, body any, headers ...string) (*response, error) {
	req, err := newRequest(context.Background(), method, base+path, token, body, headers...)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(data, &r.JSON)
	}
	return r, nil
}

func basicAuth(id, secret string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
