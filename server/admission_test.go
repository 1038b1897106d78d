package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/oidcop"
	"github.com/scanlogin/scanlogin/server/servertest"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// holdSlot makes a request that keeps its admission slot until release is
// called: the code of a scene whose image another instance is making (its
// claim is in Redis), which waits for that image.
func holdSlot(t *testing.T, inst *servertest.Instance, c *client) (release func() *response) {
	t.Helper()
	sc := c.create()
	claim := "sl:{" + sc.ID + "}:imgclaim"
	if err := inst.Client.Set(context.Background(), claim, "another instance", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan *response, 1)
	go func() { done <- c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil) }()
	waitMetricValue(t, inst, "scanlogin_admission_active ", "1")
	return func() *response {
		// The other instance gives up: this one makes the image.
		if err := inst.Client.Del(context.Background(), claim).Err(); err != nil {
			t.Fatal(err)
		}
		return <-done
	}
}

// waitMetricValue waits until the /metrics line starting with prefix has
// the value want.
func waitMetricValue(t *testing.T, inst *servertest.Instance, prefix, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); metric(inst, prefix) != want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s= %q, want %s", prefix, metric(inst, prefix), want)
		}
	}
}

// mustShed checks a refusal of admission control: 503 overloaded with
// Retry-After, in the API's error shape.
func mustShed(t *testing.T, r *response) {
	t.Helper()
	if r.Status != 503 || r.errCode() != "overloaded" || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("want 503 overloaded with Retry-After: 1, got %d %q Retry-After %q: %s", r.Status, r.errCode(), r.Header.Get("Retry-After"), r.Body)
	}
}

// TestAdmissionShedsNewWorkFirst: with new work holding its half of the
// slots (one of two, here), more new work (a scene, a mini-program login,
// an OpenID sign-in) waits its patience and is refused with 503 overloaded
// and Retry-After, in the shape of its route; the confirm of a scanned
// scene goes straight in, on the half kept for sign-ins under way; the
// browser's long poll waits as always and delivers the confirm; the
// metrics count what was shed and why, and the log has no line per shed
// request (not even in the access log).
func TestAdmissionShedsNewWorkFirst(t *testing.T) {
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
		Admission: server.AdmissionConfig{Limit: 2, LowWait: 200 * time.Millisecond, HighWait: 20 * time.Second},
	})
	c := newClient(t, inst)

	// A sign-in under way: created and scanned.
	tok, _ := c.login(inst, "Ann")
	sc := c.create()
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
	version := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200).num("version")

	release := holdSlot(t, inst, c)

	// The browser's long poll waits without a slot.
	poll := make(chan *response, 1)
	go func() {
		poll <- c.req("GET", fmt.Sprintf("/api/v1/qr/%s/state?since=%d&wait=25", sc.ID, version), sc.PollToken, nil)
	}()
	waitMetricValue(t, inst, "scanlogin_waiting_polls ", "1")

	// New work waits its patience, then is refused.
	start := time.Now()
	mustShed(t, c.req("POST", "/api/v1/qr", "", nil))
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("refused after %s, before its wait of 200ms", waited)
	}
	mustShed(t, c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": inst.MintCode(t, newOpenID(), "")}))
	page := c.req("GET", "/oidc/authorize?client_id=x", "", nil, "Accept", "text/html", "Accept-Language", "zh-CN")
	if page.Status != 503 || page.Header.Get("Retry-After") != "1" || !strings.Contains(string(page.Body), "服务繁忙") {
		t.Errorf("OpenID authorize: want the busy page, 503 with Retry-After, got %d %q: %.300s", page.Status, page.Header.Get("Retry-After"), page.Body)
	}

	// The confirm goes straight in; the poll delivers it, and the browser
	// redeems.
	conf := c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
	if conf.str("state") != "confirmed" {
		t.Fatalf("confirm: %s", conf.Body)
	}
	got := <-poll
	got.must(t, 200)
	if got.str("state") != "confirmed" {
		t.Fatalf("poll: %s", got.Body)
	}
	c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)

	release().must(t, 200)
	c.create()

	for _, want := range []string{
		`scanlogin_shed_total{class="low",reason="timeout",route="/api/v1/qr"} 1`,
		`scanlogin_shed_total{class="low",reason="timeout",route="/api/v1/mp/login"} 1`,
		`scanlogin_shed_total{class="low",reason="timeout",route="/oidc/authorize"} 1`,
		`scanlogin_admission_active 0`,
		`scanlogin_admission_limit 2`,
	} {
		name, value, _ := strings.Cut(want, " ")
		if got := metric(inst, name+" "); got != value {
			t.Errorf("%s = %q, want %s", name, got, value)
		}
	}
	if metric(inst, `scanlogin_overloaded_total{route="/api/v1/qr"} `) != "" {
		t.Error("a shed request was counted as a Redis call that could not leave this instance")
	}
	accessLines := 0
	for _, l := range logs.JSONLines() {
		if l["level"] == "ERROR" {
			t.Errorf("error logged for a shed request: %v", l)
		}
		if l["msg"] == "http request" {
			accessLines++
			if l["status"] == 503.0 {
				t.Errorf("access log line for a shed request: %v", l)
			}
		}
	}
	if accessLines == 0 {
		t.Error("no access log at all")
	}
}

// TestAdmissionOrder: when a slot frees, work on a sign-in under way that
// is waiting goes before new work that has waited longer.
func TestAdmissionOrder(t *testing.T) {
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
		Admission: server.AdmissionConfig{Limit: 1, LowWait: 20 * time.Second, HighWait: 20 * time.Second},
	})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "")
	sc := c.create()
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)

	release := holdSlot(t, inst, c)
	created := make(chan *response, 1)
	go func() { created <- c.req("POST", "/api/v1/qr", "", nil) }()
	waitMetricValue(t, inst, `scanlogin_admission_waiting{class="low"} `, "1")
	confirm := make(chan *response, 1)
	go func() { confirm <- c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil) }()
	waitMetricValue(t, inst, `scanlogin_admission_waiting{class="high"} `, "1")
	release().must(t, 200)
	(<-confirm).must(t, 200)
	newScene := (<-created).must(t, 201).str("scene")

	// The audit log shows the order the server worked in: one slot, so
	// the second started only when the first had finished.
	var order []string
	for _, l := range logs.JSONLines() {
		if l["msg"] == "audit" && (l["scene"] == sc.ID && l["action"] == "confirm" || l["scene"] == newScene && l["action"] == "create") {
			order = append(order, l["action"].(string))
		}
	}
	if strings.Join(order, ",") != "confirm,create" {
		t.Errorf("worked in the order %v, want the confirm first", order)
	}
}

// TestAdmissionStepsOutForWeChat: a request waiting for WeChat holds no
// slot, so a slow WeChat does not make the instance refuse work it can do.
func TestAdmissionStepsOutForWeChat(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{
		Admission: server.AdmissionConfig{Limit: 1, LowWait: 200 * time.Millisecond, HighWait: 20 * time.Second},
	})
	c := newClient(t, inst)
	sc := c.create()
	inst.Fake.Inject(wxfake.APIQRCode, wxfake.Fault{Delay: 2 * time.Second})
	img := make(chan *response, 1)
	go func() { img <- c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil) }()
	// The image request is in WeChat's hands once the fake has been called.
	for deadline := time.Now().Add(10 * time.Second); inst.Fake.Calls(wxfake.APIQRCode) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("WeChat was never asked for the code")
		}
	}
	c.create() // 201: the slot is free meanwhile
	(<-img).must(t, 200)
	waitMetricValue(t, inst, "scanlogin_admission_active ", "0")
}

// TestAdmissionClassifiesEveryRoute: every route has a class chosen on
// purpose (server/admission.go), and the ones a sign-in under way needs are
// high, new work low, the long poll exempt.
func TestAdmissionClassifiesEveryRoute(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	for _, r := range inst.Server.Routes() {
		if r.Method == "RouteNotFound" {
			continue
		}
		if _, listed := server.RouteClass(r.Method, r.Path); !listed {
			t.Errorf("route %s %s has no admission class in server/admission.go", r.Method, r.Path)
		}
	}
	for route, want := range map[string]string{
		"POST /api/v1/qr/:scene/scan":    "high",
		"POST /api/v1/qr/:scene/confirm": "high",
		"POST /api/v1/qr/:scene/redeem":  "high",
		"POST /oidc/token":               "high",
		"POST /api/v1/qr":                "low",
		"POST /api/v1/mp/login":          "low",
		"GET /oidc/authorize":            "low",
		"GET /api/v1/qr/:scene/state":    "exempt",
		"GET /healthz":                   "exempt",
		"OPTIONS /api/v1/qr":             "exempt",
	} {
		method, path, _ := strings.Cut(route, " ")
		if got, _ := server.RouteClass(method, path); got != want {
			t.Errorf("%s: class %s, want %s", route, got, want)
		}
	}
}

// TestAdmissionSlowBodyHoldsNoSlot: a request's body is read before it
// takes a slot, so a client that sends one slowly keeps nobody waiting.
func TestAdmissionSlowBodyHoldsNoSlot(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{Admission: server.AdmissionConfig{Limit: 1, LowWait: 200 * time.Millisecond}})
	c := newClient(t, inst)
	body, w := io.Pipe()
	req, err := http.NewRequest("POST", inst.URL+"/api/v1/mp/login", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	status := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	if _, err := w.Write([]byte(`{"code":`)); err != nil { // taken by the transport: the request is under way
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	c.create()
	c.create()
	_ = w.Close()
	if s := <-status; s != 400 {
		t.Fatalf("the slow login: status %d, want 400 for its truncated body", s)
	}
	waitMetricValue(t, inst, "scanlogin_admission_active ", "0")
}

// TestAdmissionRefusedAuthorize: an OpenID authorization request refused
// under overload goes back to its client as OAuth 2.0 says
// (temporarily_unavailable with its state, Retry-After), by GET or POST,
// and a relying-party library (zitadel/oidc's rp) reports that error to
// its application; a request that names no registered client and redirect
// URI gets the busy page and no redirect.
func TestAdmissionRefusedAuthorize(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{
		Admission: server.AdmissionConfig{Limit: 2, LowWait: time.Millisecond, HighWait: 20 * time.Second},
	})
	c := newClient(t, inst)
	demo, ok := inst.App.OIDC.Client(oidcop.DevClient(inst.URL, nil).ID)
	if !ok {
		t.Fatal("no demo client in dev mode")
	}
	callback := demo.RedirectURIs[0]

	// The client's application, on zitadel/oidc's relying party.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cookies := httphelper.NewCookieHandler(key, key, httphelper.WithUnsecure())
	var reported []string
	party, err := rp.NewRelyingPartyOIDC(t.Context(), inst.App.Config.Issuer, demo.ID, demo.Secret, callback, []string{"openid"},
		rp.WithPKCE(cookies), rp.WithErrorHandler(func(_ http.ResponseWriter, _ *http.Request, errorType, _, state string) {
			reported = []string{errorType, state}
		}))
	if err != nil {
		t.Fatal(err)
	}
	signIn := httptest.NewRecorder()
	rp.AuthURLHandler(func() string { return "st-overload" }, party)(signIn, httptest.NewRequest("GET", "/login", nil))
	authURL, err := url.Parse(signIn.Header().Get("Location"))
	if err != nil || authURL.Query().Get("redirect_uri") != callback {
		t.Fatalf("the relying party's authorization request: %q", signIn.Header().Get("Location"))
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method string, params url.Values) (*http.Response, string) {
		t.Helper()
		u := *authURL
		var req *http.Request
		if method == "POST" {
			u.RawQuery = ""
			req, _ = http.NewRequest(method, u.String(), strings.NewReader(params.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			u.RawQuery = params.Encode()
			req, _ = http.NewRequest(method, u.String(), nil)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Retry-After") != "1" {
			t.Errorf("%s %v: %d without Retry-After: 1", method, params, resp.StatusCode)
		}
		return resp, string(body)
	}

	release := holdSlot(t, inst, c)
	for _, method := range []string{"GET", "POST"} {
		resp, _ := send(method, authURL.Query())
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), callback+"?") ||
			loc.Query().Get("error") != "temporarily_unavailable" || loc.Query().Get("state") != "st-overload" {
			t.Fatalf("%s refused authorize: %d Location %q, want 302 to the client with temporarily_unavailable", method, resp.StatusCode, loc)
		}
		// The browser arrives at the client's callback.
		reported = nil
		arrive := httptest.NewRequest("GET", loc.String(), nil)
		for _, ck := range signIn.Result().Cookies() {
			arrive.AddCookie(ck)
		}
		rp.CodeExchangeHandler(func(http.ResponseWriter, *http.Request, *oidc.Tokens[*oidc.IDTokenClaims], string, rp.RelyingParty) {
			t.Error("the relying party got tokens from a refused request")
		}, party)(httptest.NewRecorder(), arrive)
		if strings.Join(reported, " ") != "temporarily_unavailable st-overload" {
			t.Errorf("%s: the relying party reported %q, want temporarily_unavailable for its state", method, reported)
		}
	}
	with := func(k, v string) url.Values {
		q := authURL.Query()
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	for name, params := range map[string]url.Values{
		"unknown client":       with("client_id", "nobody"),
		"other redirect_uri":   with("redirect_uri", callback+"/../evil"),
		"missing redirect_uri": with("redirect_uri", ""),
	} {
		for _, method := range []string{"GET", "POST"} {
			resp, body := send(method, params)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" || !strings.Contains(body, "The service is busy") {
				t.Errorf("%s %s: %d Location %q, want the busy page: %.200s", method, name, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}
	}
	release().must(t, 200)

	// Admitted again, the same request goes on to the login step.
	resp, err := browser.Get(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || loc.Path != oidcop.PathLogin {
		t.Errorf("authorize once admitted: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
