package wxfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type answer struct {
	status int
	ct     string
	raw    []byte
	m      map[string]any
}

func (a answer) errcode() int {
	n, _ := a.m["errcode"].(float64)
	return int(n)
}

func (a answer) str(k string) string { s, _ := a.m[k].(string); return s }

func do(t *testing.T, method, u, ct, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, ct: resp.Header.Get("Content-Type"), raw: raw}
	_ = json.Unmarshal(raw, &a.m)
	return a
}

type fixture struct {
	f     *wxfake.Fake
	url   string
	clock *clock
}

func start(t *testing.T, opts wxfake.Options) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	f, srv := wxfake.Start(t, opts)
	return &fixture{f: f, url: srv.URL, clock: c}
}

func (x *fixture) stable(t *testing.T, force bool) answer {
	t.Helper()
	body := fmt.Sprintf(`{"grant_type":"client_credential","appid":%q,"secret":%q,"force_refresh":%v}`, x.f.AppID(), x.f.Secret(), force)
	return do(t, "POST", x.url+"/cgi-bin/stable_token", "application/json", body)
}

func (x *fixture) classic(t *testing.T) answer {
	t.Helper()
	q := url.Values{"grant_type": {"client_credential"}, "appid": {x.f.AppID()}, "secret": {x.f.Secret()}}
	return do(t, "GET", x.url+"/cgi-bin/token?"+q.Encode(), "", "")
}

// tokenCheck returns the errcode a business endpoint gives tok (0: valid).
func (x *fixture) tokenCheck(t *testing.T, tok string) int {
	t.Helper()
	sk, _ := x.f.SessionKey(t.Context(), "oTokenCheck")
	q := url.Values{"access_token": {tok}, "openid": {"oTokenCheck"}, "sig_method": {"hmac_sha256"}, "signature": {hmacHex(sk)}}
	return do(t, "GET", x.url+"/wxa/checksession?"+q.Encode(), "", "").errcode()
}

var ridRE = regexp.MustCompile(` rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`)

// Every WeChat error: HTTP 200, WeChat's content type, errmsg + rid.
func TestErrorShape(t *testing.T) {
	x := start(t, wxfake.Options{})
	a := do(t, "GET", x.url+"/sns/jscode2session?appid="+x.f.AppID()+"&secret="+x.f.Secret()+"&js_code=nope&grant_type=authorization_code", "", "")
	b := do(t, "GET", x.url+"/sns/jscode2session?appid="+x.f.AppID()+"&secret="+x.f.Secret()+"&js_code=nope&grant_type=authorization_code", "", "")
	if a.status != 200 || a.ct != "application/json; encoding=utf-8" || a.errcode() != 40029 {
		t.Fatalf("answer = %d %q %s", a.status, a.ct, a.raw)
	}
	if !ridRE.MatchString(a.str("errmsg")) || !strings.HasPrefix(a.str("errmsg"), "invalid code") {
		t.Fatalf("errmsg = %q", a.str("errmsg"))
	}
	if a.str("errmsg") == b.str("errmsg") {
		t.Fatal("the rid does not change between calls")
	}
}

func TestStableTokenStateMachine(t *testing.T) {
	x := start(t, wxfake.Options{})
	a := x.stable(t, false)
	tok := a.str("access_token")
	if tok == "" || a.m["expires_in"] != float64(7200) || a.m["errcode"] != nil {
		t.Fatalf("first token: %s", a.raw)
	}
	// Normal mode is idempotent; expires_in is what remains.
	x.clock.Advance(time.Hour)
	if b := x.stable(t, false); b.str("access_token") != tok || b.m["expires_in"] != float64(3600) {
		t.Fatalf("an hour later: %s", b.raw)
	}
	if x.tokenCheck(t, tok) != 0 {
		t.Fatal("token not valid")
	}
	// In the last 5 minutes a normal call hands out a new token; the old one
	// works until its own expiry.
	x.clock.Advance(time.Hour - 4*time.Minute)
	c := x.stable(t, false)
	tok2 := c.str("access_token")
	if tok2 == tok || c.m["expires_in"] != float64(7200) {
		t.Fatalf("rotation: %s", c.raw)
	}
	if x.tokenCheck(t, tok) != 0 || x.tokenCheck(t, tok2) != 0 {
		t.Fatal("both tokens must work during the handover")
	}
	x.clock.Advance(4 * time.Minute)
	if got := x.tokenCheck(t, tok); got != 42001 {
		t.Fatalf("old token after its expiry: %d, want 42001", got)
	}
	// Force: the previous token is dead at once (40001), a new one issued.
	f := x.stable(t, true)
	tok3 := f.str("access_token")
	if tok3 == "" || tok3 == tok2 {
		t.Fatalf("force: %s", f.raw)
	}
	if got := x.tokenCheck(t, tok2); got != 40001 {
		t.Fatalf("token superseded by force: %d, want 40001", got)
	}
	// Forced again within 30 s: no refresh.
	x.clock.Advance(10 * time.Second)
	if g := x.stable(t, true); g.str("access_token") != tok3 {
		t.Fatalf("second force within 30 s refreshed: %s", g.raw)
	}
	// 20 forces a day, then 45009.
	for i := 2; i <= 20; i++ {
		x.clock.Advance(31 * time.Second)
		if g := x.stable(t, true); g.str("access_token") == "" {
			t.Fatalf("force %d: %s", i, g.raw)
		}
	}
	x.clock.Advance(31 * time.Second)
	if g := x.stable(t, true); g.errcode() != 45009 {
		t.Fatalf("21st force: %s", g.raw)
	}
	if g := x.stable(t, false); g.str("access_token") == "" {
		t.Fatalf("normal mode after the force quota: %s", g.raw)
	}
}

func TestStableTokenRequestErrors(t *testing.T) {
	x := start(t, wxfake.Options{AppID: "wxapp", Secret: "sec"})
	tests := []struct {
		name, method, ct, body string
		code                   int
	}{
		{"GET", "GET", "", "", 43002},
		{"empty body", "POST", "application/json", "", 44002},
		{"form body", "POST", "application/x-www-form-urlencoded", "grant_type=client_credential&appid=wxapp&secret=sec", 47001},
		{"not JSON", "POST", "application/json", "{grant_type", 47001},
		{"grant_type", "POST", "application/json", `{"grant_type":"password","appid":"wxapp","secret":"sec"}`, 40002},
		{"no appid", "POST", "application/json", `{"grant_type":"client_credential","secret":"sec"}`, 41002},
		{"other appid", "POST", "application/json", `{"grant_type":"client_credential","appid":"wxother","secret":"sec"}`, 40013},
		{"no secret", "POST", "application/json", `{"grant_type":"client_credential","appid":"wxapp"}`, 41004},
		{"wrong secret", "POST", "application/json", `{"grant_type":"client_credential","appid":"wxapp","secret":"nope"}`, 40125},
		{"ok, no force_refresh", "POST", "application/json", `{"grant_type":"client_credential","appid":"wxapp","secret":"sec"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, tt.method, x.url+"/cgi-bin/stable_token", tt.ct, tt.body)
			if a.errcode() != tt.code || (tt.code == 0 && a.str("access_token") == "") {
				t.Fatalf("answer %s, want errcode %d", a.raw, tt.code)
			}
		})
	}
}

func TestClassicToken(t *testing.T) {
	x := start(t, wxfake.Options{})
	t1 := x.classic(t).str("access_token")
	t2 := x.classic(t).str("access_token")
	if t1 == "" || t2 == "" || t1 == t2 {
		t.Fatalf("tokens %q %q: every call must mint a new one", t1, t2)
	}
	if x.tokenCheck(t, t1) != 0 {
		t.Fatal("superseded token must work during the 5-minute grace")
	}
	x.clock.Advance(5 * time.Minute)
	if got := x.tokenCheck(t, t1); got != 40001 {
		t.Fatalf("after the grace: %d, want 40001", got)
	}
	if x.tokenCheck(t, t2) != 0 {
		t.Fatal("current token invalid")
	}
	// The two token kinds are independent.
	s := x.stable(t, true).str("access_token")
	if x.tokenCheck(t, t2) != 0 || x.tokenCheck(t, s) != 0 {
		t.Fatal("a stable_token force refresh touched /cgi-bin/token's token")
	}
	if a := do(t, "GET", x.url+"/cgi-bin/token?grant_type=client_credential&appid="+x.f.AppID()+"&secret=x", "", ""); a.errcode() != 40125 {
		t.Fatalf("wrong secret: %s", a.raw)
	}
}

func TestTokenChecks(t *testing.T) {
	x := start(t, wxfake.Options{})
	tok := x.stable(t, false).str("access_token")
	for name, tt := range map[string]struct {
		tok  string
		code int
	}{
		"missing":   {"", 41001},
		"malformed": {"not a token!", 40014},
		"unknown":   {"86_" + strings.Repeat("A", 130), 40001},
		"valid":     {tok, 0},
	} {
		if got := x.tokenCheck(t, tt.tok); got != tt.code {
			t.Errorf("%s: %d, want %d", name, got, tt.code)
		}
	}
	x.f.ExpireTokens()
	if got := x.tokenCheck(t, tok); got != 42001 {
		t.Fatalf("after ExpireTokens: %d, want 42001", got)
	}
	if n := x.stable(t, false).str("access_token"); n == tok || x.tokenCheck(t, n) != 0 {
		t.Fatal("no fresh token after ExpireTokens")
	}
	x.clock.Advance(3 * time.Hour)
	if got := x.tokenCheck(t, tok); got != 42001 {
		t.Fatalf("long expired: %d, want 42001", got)
	}
	// The token goes in the query, never in the body.
	body := fmt.Sprintf(`{"scene":"s","access_token":%q}`, tok)
	if a := do(t, "POST", x.url+"/wxa/getwxacodeunlimit", "application/json", body); a.errcode() != 47001 {
		t.Fatalf("token in the body: %s", a.raw)
	}
}

func TestQRRequestErrors(t *testing.T) {
	x := start(t, wxfake.Options{})
	tok := x.stable(t, false).str("access_token")
	u := x.url + "/wxa/getwxacodeunlimit?access_token=" + tok
	if a := do(t, "POST", u, "application/x-www-form-urlencoded", "scene=abc"); a.errcode() != 40169 {
		t.Fatalf("form body: %s", a.raw)
	}
	if a := do(t, "GET", u, "", ""); a.errcode() != 43002 {
		t.Fatalf("GET: %s", a.raw)
	}
	// line_color as strings or numbers, width as given.
	a := do(t, "POST", u, "application/json", `{"scene":"abc","width":300,"auto_color":false,"line_color":{"r":"0","g":0,"b":"0"},"is_hyaline":true}`)
	if a.status != 200 || a.ct != "image/jpeg" || !bytes.HasPrefix(a.raw, []byte("\x89PNG")) {
		t.Fatalf("answer %d %q %.20q", a.status, a.ct, a.raw)
	}
}

func TestCodesAndHooks(t *testing.T) {
	x := start(t, wxfake.Options{})
	a := do(t, "POST", x.url+"/login", "application/json", `{"openid":"oHook","nickname":"Hook"}`)
	code := a.str("code")
	if a.status != 200 || len(code) != 32 {
		t.Fatalf("login hook: %d %s", a.status, a.raw)
	}
	q := url.Values{"appid": {x.f.AppID()}, "secret": {x.f.Secret()}, "js_code": {code}, "grant_type": {"authorization_code"}}
	s := do(t, "GET", x.url+"/sns/jscode2session?"+q.Encode(), "", "")
	sk, _ := x.f.SessionKey(t.Context(), "oHook")
	if s.str("openid") != "oHook" || s.str("session_key") != sk || len(sk) != 24 || s.m["errcode"] != nil {
		t.Fatalf("jscode2session: %s", s.raw)
	}
	if s := do(t, "GET", x.url+"/sns/jscode2session?"+q.Encode(), "", ""); s.errcode() != 40163 {
		t.Fatalf("reuse: %s", s.raw)
	}
	for name, tt := range map[string]struct {
		path, body string
		status     int
	}{
		"login without openid":  {"/login", `{}`, 400},
		"login bad openid":      {"/login", `{"openid":"a b"}`, 400},
		"login not JSON":        {"/login", `openid=x`, 400},
		"phonecode":             {"/phonecode", `{"openid":"oHook","phone_number":"13800138000"}`, 200},
		"phonecode bad number":  {"/phonecode", `{"openid":"oHook","phone_number":"call me"}`, 400},
		"phonecode no openid":   {"/phonecode", `{"phone_number":"13800138000"}`, 400},
		"phonecode intl number": {"/phonecode", `{"openid":"oHook","phone_number":"+852 91234567"}`, 200},
	} {
		if a := do(t, "POST", x.url+tt.path, "application/json", tt.body); a.status != tt.status {
			t.Errorf("%s: %d %s, want %d", name, a.status, a.raw, tt.status)
		}
	}
	if a := do(t, "GET", x.url+"/login", "", ""); a.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /login: %d", a.status)
	}
	// Phone codes: single use, bound to this app's token.
	pc := do(t, "POST", x.url+"/phonecode", "application/json", `{"openid":"oHook","phone_number":"13800138000"}`).str("code")
	tok := x.stable(t, false).str("access_token")
	pu := x.url + "/wxa/business/getuserphonenumber?access_token=" + tok
	p := do(t, "POST", pu, "application/json", `{"code":"`+pc+`"}`)
	info, _ := p.m["phone_info"].(map[string]any)
	wm, _ := info["watermark"].(map[string]any)
	if p.errcode() != 0 || p.str("errmsg") != "ok" || info["purePhoneNumber"] != "13800138000" || wm["appid"] != x.f.AppID() {
		t.Fatalf("phone: %s", p.raw)
	}
	if p := do(t, "POST", pu, "application/json", `{"code":"`+pc+`"}`); p.errcode() != 40029 {
		t.Fatalf("phone code reuse: %s", p.raw)
	}
}

func TestCheckSession(t *testing.T) {
	x := start(t, wxfake.Options{})
	tok := x.stable(t, false).str("access_token")
	sk, _ := x.f.SessionKey(t.Context(), "oCS")
	check := func(openid, sig, method string) int {
		q := url.Values{"access_token": {tok}, "openid": {openid}, "signature": {sig}, "sig_method": {method}}
		return do(t, "GET", x.url+"/wxa/checksession?"+q.Encode(), "", "").errcode()
	}
	if got := check("oCS", hmacHex(sk), "hmac_sha256"); got != 0 {
		t.Fatalf("right signature: %d", got)
	}
	if got := check("oCS", hmacHex("tiihtNczf5v6AKRyjwEUhQ=="), "hmac_sha256"); got != 87009 {
		t.Fatalf("wrong signature: %d", got)
	}
	if got := check("oCS", hmacHex(sk), "md5"); got != 87008 {
		t.Fatalf("sig_method: %d", got)
	}
	if got := check("oNobody", hmacHex(sk), "hmac_sha256"); got != 87007 {
		t.Fatalf("unknown user: %d", got)
	}
}

func TestFaults(t *testing.T) {
	x := start(t, wxfake.Options{})
	x.f.Inject(wxfake.APIStableToken, wxfake.Fault{Errcode: -1, Times: 2})
	for i, want := range []int{-1, -1, 0} {
		if got := x.stable(t, false).errcode(); got != want {
			t.Fatalf("call %d: errcode %d, want %d", i, got, want)
		}
	}
	if n := x.f.Calls(wxfake.APIStableToken); n != 3 {
		t.Fatalf("calls = %d", n)
	}
	// A hang ends when the fake closes, so a test never waits forever.
	x.f.Inject(wxfake.APIToken, wxfake.Fault{Hang: true})
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(x.url + "/cgi-bin/token")
		if err == nil {
			resp.Body.Close()
		}
	}()
	for x.f.Calls(wxfake.APIToken) == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("the hanging request returned")
	case <-time.After(50 * time.Millisecond):
	}
	_ = x.f.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the hanging request")
	}
}

// Two fakes on one Redis (two dev-mode instances) agree: a code minted on
// one is accepted by the other, once; a token from one is valid on both.
func TestSharedState(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	a := start(t, wxfake.Options{Redis: rdb})
	b := start(t, wxfake.Options{Redis: rdb})
	code, err := a.f.MintCode(t.Context(), "oBoth", "")
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"appid": {b.f.AppID()}, "secret": {b.f.Secret()}, "js_code": {code}, "grant_type": {"authorization_code"}}
	if s := do(t, "GET", b.url+"/sns/jscode2session?"+q.Encode(), "", ""); s.str("openid") != "oBoth" {
		t.Fatalf("code from a on b: %s", s.raw)
	}
	if s := do(t, "GET", a.url+"/sns/jscode2session?"+q.Encode(), "", ""); s.errcode() != 40163 {
		t.Fatalf("code reused on a: %s", s.raw)
	}
	tok := a.stable(t, false).str("access_token")
	if b.tokenCheck(t, tok) != 0 {
		t.Fatal("token from a rejected by b")
	}
	if got := b.stable(t, false).str("access_token"); got != tok {
		t.Fatal("b's stable_token differs from a's")
	}
	ska, _ := a.f.SessionKey(t.Context(), "oBoth")
	skb, _ := b.f.SessionKey(t.Context(), "oBoth")
	if ska != skb {
		t.Fatal("session keys differ between the fakes")
	}
}

// /cgi-bin/token allows 2000 calls a day; the next day the count restarts.
func TestClassicTokenDailyQuota(t *testing.T) {
	x := start(t, wxfake.Options{})
	for i := range 2000 {
		if a := x.classic(t); a.str("access_token") == "" {
			t.Fatalf("call %d: %s", i+1, a.raw)
		}
	}
	if a := x.classic(t); a.errcode() != 45009 {
		t.Fatalf("call 2001: %s", a.raw)
	}
	x.clock.Advance(24 * time.Hour)
	if a := x.classic(t); a.str("access_token") == "" {
		t.Fatalf("next day: %s", a.raw)
	}
}

// A code raced by many requests on two fakes sharing Redis is exchanged once.
func TestCodeRace(t *testing.T) {
	rs := scanlogintest.Start(t)
	rdb := rs.Client(t)
	fakes := []*fixture{start(t, wxfake.Options{Redis: rdb}), start(t, wxfake.Options{Redis: rdb})}
	code, err := fakes[0].f.MintCode(t.Context(), "oRace", "")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		x := fakes[i%2]
		wg.Go(func() {
			q := url.Values{"appid": {x.f.AppID()}, "secret": {x.f.Secret()}, "js_code": {code}, "grant_type": {"authorization_code"}}
			a := do(t, "GET", x.url+"/sns/jscode2session?"+q.Encode(), "", "")
			mu.Lock()
			got[a.errcode()]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if got[0] != 1 || got[40163] != 19 {
		t.Fatalf("answers by errcode: %v, want one success and 19 × 40163", got)
	}
}

// The dev hooks answer errors in scanlogin's API shape, and a store that is
// down with 503 and Retry-After, so clients back off as they do elsewhere.
func TestHookErrors(t *testing.T) {
	rs := scanlogintest.Start(t)
	fx := start(t, wxfake.Options{Redis: rs.Client(t)})
	post := func(body string) (*http.Response, map[string]map[string]string) {
		t.Helper()
		resp, err := http.Post(fx.url+"/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	if resp, out := post("not json"); resp.StatusCode != 400 || out["error"]["code"] != "invalid_request" || out["error"]["message"] == "" {
		t.Fatalf("bad body: %d %v", resp.StatusCode, out)
	}
	rs.Stop()
	resp, out := post(`{"openid":"oDown"}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || out["error"]["code"] != "unavailable" {
		t.Fatalf("store down: %d Retry-After %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), out)
	}
}
