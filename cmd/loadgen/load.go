package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ticket is one login attempt: a browser's scene, followed by the browser
// and completed by a phone.
type ticket struct {
	Scene     string `json:"scene"`
	PollToken string `json:"poll_token"`
	MatchCode string `json:"match_code"`
	Version   int64  `json:"version"`

	flow *oidcFlow // -mode oidc: the authorization request it belongs to

	confirmStart atomic.Int64 // unix ns when the phone sent confirm
	confirmed    atomic.Bool  // the phone's confirm succeeded
	redeemed     atomic.Bool  // the browser redeemed its session
}

// shortPollEvery is how often a -mode shortpoll browser asks for its state,
// as the scan-login tutorials it stands for do.
const shortPollEvery = time.Second

// load holds one run's shared state.
type load struct {
	cfg         *config
	client      *http.Client // the browsers' (and the probes')
	phoneClient *http.Client
	st          *stats
	avail       chan *ticket

	mu        sync.Mutex
	confirmed []*ticket // confirmed by a phone inside the window
	scanned   []*ticket // scanned by a phone inside the window: logins under way

	// tokens keeps each phone user's mp token between logins, as the
	// mini-program stores it (nil with -relogin).
	tokens []atomic.Pointer[string]

	// sigterm fault: targets that went away are skipped.
	deadMu sync.RWMutex
	dead   map[string]bool

	faultAt time.Time // when the fault was injected, if any
	t0      time.Time // start of the run
}

// newClient is an HTTP client for one side of the load: HTTP/1.1 with a
// connection per concurrent request, or HTTP/2 with prior knowledge, many
// requests per connection, as a proxy in front of the servers speaks it.
func newClient(cfg *config, h2c bool) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        cfg.browsers + 4096,
		MaxIdleConnsPerHost: cfg.browsers + 4096,
		IdleConnTimeout:     90 * time.Second,
	}
	if h2c {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Timeout: time.Duration(cfg.wait+15) * time.Second, Transport: tr}
}

func runLoad(ctx context.Context, cfg *config, cl *cluster, logs io.Writer) (*summary, error) {
	l := &load{
		cfg:         cfg,
		client:      newClient(cfg, cfg.h2c),
		phoneClient: newClient(cfg, cfg.phonesH2C),
		st:          newStats(),
		avail:       make(chan *ticket, cfg.browsers),
		dead:        map[string]bool{},
	}
	if !cfg.relogin {
		l.tokens = make([]atomic.Pointer[string], cfg.phones)
	}
	probe := newProbe(cfg)
	defer probe.close()
	l.t0 = time.Now()
	baseline := l.takeSample(ctx, probe) // before any load
	if l.tokens != nil && !cfg.create {
		if err := l.prelogin(ctx, logs); err != nil {
			return nil, err
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var browsers sync.WaitGroup
	rssBefore := probe.rss(0)
	// Browsers arrive spread over one poll period, as real ones do; all at
	// once, their long polls would time out together every period and the
	// re-poll herd would be what the run measures, and their short polls
	// would all land in the same instant of every second, which would make
	// the short poll's latency depend on when in that second phones confirm.
	ramp := time.Duration(0)
	switch {
	case cfg.create:
	case cfg.mode == "longpoll" || cfg.mode == "oidc":
		ramp = time.Duration(cfg.wait) * time.Second
	case cfg.mode == "shortpoll":
		ramp = shortPollEvery
	}
	for i := range cfg.browsers {
		browsers.Add(1)
		delay := ramp * time.Duration(i) / time.Duration(cfg.browsers)
		go func() {
			defer browsers.Done()
			if sleepCtx(runCtx, delay) {
				l.browser(runCtx, i)
			}
		}()
	}

	// Idle waiters first: every browser waiting and no phone yet, so the
	// browser instance's growth is the cost of waiting alone.
	idle := l.settle(ctx, cl, logs)
	rssIdle := probe.rss(0)

	var phones sync.WaitGroup
	phoneCtx, stopPhones := context.WithCancel(runCtx)
	defer stopPhones()
	if !cfg.create {
		phones.Add(1)
		go func() { defer phones.Done(); l.dispatchPhones(phoneCtx, runCtx, &phones) }()
	}
	progressDone := make(chan struct{})
	go l.progress(runCtx, logs, progressDone)

	if !sleepCtx(ctx, cfg.warmup) {
		return nil, ctx.Err()
	}
	before := probe.snapshot(ctx)
	profiled := startProfiles(ctx, cfg, cl, logs)
	l.st.start()
	samplesDone := make(chan []sample, 1)
	go func() { samplesDone <- l.sampleLoop(runCtx, probe) }()
	var faultRes *faultResult
	if cfg.fault != "" {
		half := cfg.duration / 2
		if !sleepCtx(ctx, half) {
			return nil, ctx.Err()
		}
		faultRes = l.injectFault(ctx, cl, probe, logs)
		if !sleepCtx(ctx, cfg.duration-half) {
			return nil, ctx.Err()
		}
	} else if !sleepCtx(ctx, cfg.duration) {
		return nil, ctx.Err()
	}
	l.st.stop()
	after := probe.snapshot(ctx)
	profiled.Wait()

	// Let logins confirmed in the window finish delivering, then stop.
	stopPhones()
	grace := time.Duration(cfg.wait+5) * time.Second
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && l.undelivered() > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	browsers.Wait()
	phones.Wait()
	<-progressDone
	samples := <-samplesDone
	// Once everything has stopped: what is left behind.
	time.Sleep(time.Second)
	samples = append(samples, l.takeSample(ctx, probe))

	sum := l.summarize(before, after, probe, faultRes)
	if cl != nil {
		sum.RedisFsync = cl.redis.fsync
	}
	sum.Samples = append([]sample{baseline}, samples...)
	sum.IdleWaiters = idle
	if idle > 0 && rssBefore > 0 && rssIdle > rssBefore {
		sum.RSSPerIdleWaiterKB = float64(rssIdle-rssBefore) / 1024 / float64(idle)
	}
	return sum, nil
}

// settle waits until the browsers are waiting (or, in create mode, a short
// moment), and returns how many polls the browser instance holds. Short
// polls never wait: there it waits for every browser to hold a scene.
func (l *load) settle(ctx context.Context, cl *cluster, logs io.Writer) int {
	if l.cfg.create {
		return 0
	}
	if l.cfg.mode == "shortpoll" {
		for l.st.allCreated.Load() < int64(l.cfg.browsers) {
			if !sleepCtx(ctx, 100*time.Millisecond) {
				break
			}
		}
		fmt.Fprintf(logs, "loadgen: %d browsers polling\n", l.cfg.browsers)
		return 0
	}
	deadline := time.Now().Add(60 * time.Second)
	last := 0.0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n := l.waiting(ctx)
		if n >= float64(l.cfg.browsers)*0.99 {
			fmt.Fprintf(logs, "loadgen: %d browsers waiting\n", int(n))
			time.Sleep(time.Second) // let the allocator settle
			// Counted again after the pause, next to the RSS reading that
			// is divided by it: more browsers arrived meanwhile.
			return int(l.waiting(ctx))
		}
		if n != last {
			last = n
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(logs, "loadgen: only %d of %d browsers waiting after 60 s\n", int(last), l.cfg.browsers)
	return int(last)
}

// waiting is the number of polls the browser instances hold.
func (l *load) waiting(ctx context.Context) float64 {
	n := 0.0
	for _, t := range l.cfg.browserTargets {
		n += gauge(ctx, l.client, t, "scanlogin_waiting_polls")
	}
	return n
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// browserIP gives each simulated browser its own address from the
// benchmarking range (RFC 2544), sent as X-Forwarded-For through the trusted
// loopback proxy, so per-IP limits see many clients as in production.
func browserIP(i int) string {
	return fmt.Sprintf("198.18.%d.%d", (i>>8)&0xff, i&0xff)
}

func phoneIP(i int) string {
	return fmt.Sprintf("198.19.%d.%d", (i>>8)&0xff, i&0xff)
}

// response is one API answer.
type response struct {
	status     int
	retryAfter time.Duration
	body       []byte
	cookie     string // the session cookie a redeem sets, as a Cookie header
}

func (l *load) do(ctx context.Context, side, method, url, ip, bearer string, body any) (*response, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("X-Forwarded-For", ip)
	req.Header.Set("User-Agent", "scanlogin-loadgen/1 ("+side+")")
	l.st.request(side)
	client := l.client
	if side == "phone" {
		client = l.phoneClient
	}
	start := time.Now()
	out, err := readResponse(client.Do(req))
	if l.st.measuring.Load() && ctx.Err() == nil {
		l.st.kinds.record(requestKind(method, url), out, time.Since(start))
	}
	if err != nil {
		return nil, err
	}
	if out.status == 503 {
		l.st.unavailable(out.retryAfter > 0)
	}
	return out, nil
}

// readResponse reads an answer whole.
func readResponse(resp *http.Response, err error) (*response, error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &response{status: resp.StatusCode, body: b, cookie: sessionCookie(resp.Header)}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			out.retryAfter = time.Duration(n) * time.Second
		}
	}
	return out, nil
}

// failure records a failed answer under what (the step) with its kind: the
// transport failure or the status and error code. A refusal with
// Retry-After (503 overloaded, 429) is not a failure: the step waits and
// tries again, and the per-kind tally counts it.
func (l *load) failure(what string, r *response, err error) {
	switch {
	case err == nil && refusal(r) != "":
	case errors.Is(err, context.Canceled):
		// Our own stop at the end of the run, not the server's doing.
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		l.st.fail(what+": timeout", err.Error())
	case err != nil:
		l.st.fail(what+": transport", err.Error())
	default:
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(r.body, &e)
		l.st.fail(fmt.Sprintf("%s: %d %s", what, r.status, e.Error.Code), e.Error.Message)
	}
}

// backoff waits before a retry: the server's Retry-After when it gave one.
func backoff(ctx context.Context, r *response, attempt int) bool {
	d := time.Duration(50<<min(attempt, 6)) * time.Millisecond
	if r != nil && r.retryAfter > 0 {
		d = r.retryAfter
	}
	return sleepCtx(ctx, d+time.Duration(rand.Int64N(int64(50*time.Millisecond))))
}

// widgetBackoff waits before creating a scene again as the browser widget
// does (web/static/scanlogin.js, backoff): exponential from 1 s to 30 s
// with ±25% jitter, never shorter than Retry-After. An overloaded server
// sheds creation first, and browsers that came back every second would
// spend on refusals what the logins under way need.
func widgetBackoff(ctx context.Context, r *response, attempt int) bool {
	exp := min(30*time.Second, time.Second<<min(max(attempt-1, 0), 5))
	d := time.Duration(float64(exp) * (0.75 + rand.Float64()*0.5))
	if r != nil {
		d = max(d, r.retryAfter)
	}
	return sleepCtx(ctx, d)
}

// target picks the i-th live target of a list, skipping stopped instances.
func (l *load) target(list []string, i int) string {
	l.deadMu.RLock()
	defer l.deadMu.RUnlock()
	for k := range list {
		t := list[(i+k)%len(list)]
		if !l.dead[t] {
			return t
		}
	}
	return list[i%len(list)]
}

func (l *load) markDead(t string) {
	l.deadMu.Lock()
	l.dead[t] = true
	l.deadMu.Unlock()
}

// browser creates a scene, offers it to the phones and follows it to the
// end, again and again.
func (l *load) browser(ctx context.Context, i int) {
	ip := browserIP(i)
	seq := 0
	for attempt := 0; ctx.Err() == nil; {
		base := l.target(l.cfg.browserTargets, i)
		if l.cfg.create {
			seq++
			ip = browserIP(i*4096 + seq) // creation is limited per IP: spread it
		}
		var flow *oidcFlow
		if l.cfg.mode == "oidc" {
			f, err := l.oidcAuthorize(ctx, base, ip)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				l.st.fail("oidc "+strings.SplitN(err.Error(), ":", 2)[0], err.Error())
				attempt++
				backoff(ctx, nil, attempt)
				continue
			}
			flow = f
		}
		r, err := l.do(ctx, "browser", "POST", base+"/api/v1/qr", ip, "", map[string]any{})
		if err != nil || r.status != http.StatusCreated {
			if ctx.Err() != nil {
				return
			}
			l.failure("create", r, err)
			attempt++
			widgetBackoff(ctx, r, attempt)
			continue
		}
		attempt = 0
		l.st.created()
		if l.cfg.create {
			continue
		}
		t := &ticket{flow: flow}
		if err := json.Unmarshal(r.body, t); err != nil || t.Scene == "" {
			l.st.fail("create: bad body", "")
			continue
		}
		select {
		case l.avail <- t:
		default: // more waiting scenes than phones will take: it just waits
		}
		l.follow(ctx, i, ip, t)
	}
}

type sceneState struct {
	State   string `json:"state"`
	Version int64  `json:"version"`
}

// follow polls one scene until it is final.
func (l *load) follow(ctx context.Context, i int, ip string, t *ticket) {
	since := t.Version
	for attempt := 0; ctx.Err() == nil; {
		base := l.target(l.cfg.browserTargets, i)
		url := base + "/api/v1/qr/" + t.Scene + "/state"
		if l.cfg.mode != "shortpoll" {
			url += "?since=" + strconv.FormatInt(since, 10) + "&wait=" + strconv.Itoa(l.cfg.wait)
		}
		r, err := l.do(ctx, "browser", "GET", url, ip, t.PollToken, nil)
		if err != nil || r.status != http.StatusOK {
			if ctx.Err() != nil {
				return
			}
			if r != nil && r.status == http.StatusNotFound {
				l.failure("poll", r, err)
				return // gone (a Redis that lost data): start over
			}
			l.failure("poll", r, err)
			attempt++
			backoff(ctx, r, attempt)
			continue
		}
		attempt = 0
		var s sceneState
		if json.Unmarshal(r.body, &s) != nil {
			l.st.fail("poll: bad body", "")
			continue
		}
		since = s.Version
		switch s.State {
		case "confirmed":
			if start := t.confirmStart.Load(); start > 0 {
				l.st.delivered(time.Since(time.Unix(0, start)), time.Unix(0, start))
			}
			l.redeem(ctx, i, ip, t)
			return
		case "expired", "cancelled", "redeemed":
			return
		}
		if l.cfg.mode == "shortpoll" && !sleepCtx(ctx, shortPollEvery) {
			return
		}
	}
}

func (l *load) redeem(ctx context.Context, i int, ip string, t *ticket) {
	for attempt := 0; attempt < 20 && ctx.Err() == nil; attempt++ {
		base := l.target(l.cfg.browserTargets, i)
		r, err := l.do(ctx, "browser", "POST", base+"/api/v1/qr/"+t.Scene+"/redeem", ip, t.PollToken, map[string]any{})
		switch {
		case err == nil && r.status == http.StatusOK:
			if t.redeemed.Swap(true) {
				l.st.fail("redeem: twice", t.Scene)
			}
			if t.flow != nil {
				l.oidcComplete(ctx, i, ip, t, r.cookie)
				return
			}
			l.st.login()
			return
		case err == nil && r.status == http.StatusConflict:
			l.failure("redeem", r, err)
			return
		}
		l.failure("redeem", r, err)
		backoff(ctx, r, attempt)
	}
}

// oidcComplete takes a redeemed scene's browser back through the provider
// to the client, whose back end exchanges the code on the phones' instance.
func (l *load) oidcComplete(ctx context.Context, i int, ip string, t *ticket, cookie string) {
	if cookie == "" {
		l.st.fail("oidc redeem", errNoCookie.Error())
		return
	}
	err := l.oidcFinish(ctx, l.target(l.cfg.browserTargets, i), l.target(l.cfg.phoneTargets, i), ip, cookie, t.flow)
	if err != nil {
		if ctx.Err() == nil {
			l.st.fail("oidc "+strings.SplitN(err.Error(), ":", 2)[0], err.Error())
		}
		return
	}
	if start := t.confirmStart.Load(); start > 0 {
		l.st.oidcDone(time.Since(time.Unix(0, start)), time.Unix(0, start))
	}
	l.st.login()
}

// dispatchPhones starts logins at the configured rate whether or not earlier
// ones have finished (open loop), so a slow server shows as latency rather
// than as a lower offered load. It stops starting them when ctx ends; the
// logins it started go on until loginCtx ends, so that one scanned as the
// window closes still counts as lost only if it is.
func (l *load) dispatchPhones(ctx, loginCtx context.Context, wg *sync.WaitGroup) {
	start := time.Now()
	started := 0
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds() * l.cfg.rate)
		for ; started < due; started++ {
			select {
			case t := <-l.avail:
				wg.Add(1)
				go func(n int) { defer wg.Done(); l.phone(loginCtx, n, rand.IntN(l.cfg.phones), t) }(started)
			default:
				// Every browser is busy, most likely waiting to create
				// its next scene: this login is offered but never starts.
				l.st.notStarted()
			}
		}
	}
}

// prelogin logs every phone user in once before the run, so the run sees
// returning mini-program users that hold a token, as most scanners are.
func (l *load) prelogin(ctx context.Context, logs io.Writer) error {
	start := time.Now()
	users := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range users {
				l.phone(ctx, 0, u, nil)
			}
		}()
	}
	for u := range l.cfg.phones {
		users <- u
	}
	close(users)
	wg.Wait()
	missing := 0
	for i := range l.tokens {
		if l.tokens[i].Load() == nil {
			missing++
		}
	}
	fmt.Fprintf(logs, "loadgen: %d phone users logged in in %.1fs\n", l.cfg.phones-missing, time.Since(start).Seconds())
	if missing > 0 {
		return fmt.Errorf("prelogin: %d of %d phone users could not log in", missing, l.cfg.phones)
	}
	return ctx.Err()
}

// phone does what the mini-program does for one login: get a wx.login code
// and log in (unless the user holds a token), scan, confirm; with no ticket
// it only logs in. Each step is retried on 429/5xx (honouring Retry-After)
// so a login started during a fault still completes.
func (l *load) phone(ctx context.Context, n, user int, t *ticket) {
	ip := phoneIP(user)
	openid := "o_loadgen_" + strconv.Itoa(user)
	var code, token struct {
		Code  string `json:"code"`
		Token string `json:"token"`
	}
	first := 0 // the step to start at: a phone with a token goes straight to scan
	if l.tokens != nil {
		if p := l.tokens[user].Load(); p != nil {
			token.Token, first = *p, 2
		}
	}
	var scene, match string
	if t != nil {
		scene, match = t.Scene, t.MatchCode
	}
	steps := []struct {
		name, method, path string
		bearer             func() string
		body               func() any
		out                any
	}{
		{"code", "POST", "/dev/wechat/login", func() string { return "" }, func() any { return map[string]string{"openid": openid} }, &code},
		{"login", "POST", "/api/v1/mp/login", func() string { return "" }, func() any { return map[string]string{"code": code.Code} }, &token},
		{"scan", "POST", "/api/v1/qr/" + scene + "/scan", func() string { return token.Token }, func() any { return map[string]any{} }, nil},
		{"confirm", "POST", "/api/v1/qr/" + scene + "/confirm", func() string { return token.Token }, func() any { return map[string]string{"match_code": match} }, nil},
	}
	last := len(steps)
	if t == nil {
		last = 2 // log in only
	}
	for k := first; k < last; k++ {
		s := steps[k]
		var r *response
		var err error
		for attempt := 0; ; attempt++ {
			if ctx.Err() != nil {
				return
			}
			base := l.target(l.cfg.phoneTargets, n)
			if s.name == "confirm" {
				t.confirmStart.Store(time.Now().UnixNano())
			}
			r, err = l.do(ctx, "phone", s.method, base+s.path, ip, s.bearer(), s.body())
			if err == nil && r.status < 300 {
				break
			}
			l.failure("phone "+s.name, r, err)
			if err != nil && l.cfg.fault == "sigterm" {
				l.markDead(base)
			}
			retryable := err != nil || r.status == 429 || r.status >= 500
			if r != nil && r.status == 401 && s.name == "login" {
				k = -1 // the code was spent by a request that failed late: mint a new one
				break
			}
			if r != nil && r.status == 401 && k > 1 && l.tokens != nil {
				l.tokens[user].Store(nil) // the kept token was refused: log in again
				k = -1
				break
			}
			if !retryable || attempt >= 30 {
				return
			}
			backoff(ctx, r, attempt)
		}
		if k == -1 {
			continue
		}
		if s.out != nil {
			_ = json.Unmarshal(r.body, s.out)
		}
		if s.name == "scan" && l.st.measuring.Load() {
			l.mu.Lock()
			l.scanned = append(l.scanned, t)
			l.mu.Unlock()
		}
		if s.name == "login" && l.tokens != nil && token.Token != "" {
			tok := token.Token
			l.tokens[user].Store(&tok)
		}
	}
	if t == nil {
		return
	}
	t.confirmed.Store(true)
	if l.st.measuring.Load() {
		l.mu.Lock()
		l.confirmed = append(l.confirmed, t)
		l.mu.Unlock()
	}
}

// undelivered counts logins scanned or confirmed in the window that no
// browser has redeemed yet.
func (l *load) undelivered() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, list := range [][]*ticket{l.confirmed, l.scanned} {
		for _, t := range list {
			if !t.redeemed.Load() {
				n++
			}
		}
	}
	return n
}

func (l *load) progress(ctx context.Context, logs io.Writer, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		total := l.st.allLogins.Load()
		window := "warm-up"
		if l.st.measuring.Load() {
			window = "measuring"
		}
		fmt.Fprintf(logs, "loadgen: %4.0fs %-9s logins %6d (%4d/s) created %7d errors %5d\n",
			time.Since(start).Seconds(), window, total, total-last, l.st.allCreated.Load(), l.st.errorCount())
		last = total
	}
}
