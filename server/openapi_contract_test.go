package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/paths"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/servertest"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// exchange is one request and its answer as the network carried them.
type exchange struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

func (x exchange) response() *http.Response {
	return &http.Response{StatusCode: x.status, Header: x.header, Body: io.NopCloser(bytes.NewReader(x.body)), Request: x.req}
}

// recorder is an http.RoundTripper that keeps every exchange.
type recorder struct {
	mu   sync.Mutex
	seen []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	r.mu.Lock()
	r.seen = append(r.seen, exchange{req: req.Clone(req.Context()), status: resp.StatusCode, header: resp.Header.Clone(), body: data})
	r.mu.Unlock()
	return resp, nil
}

// TestOpenAPIContract drives every route of real servers (dev mode, real
// Redis, the fake WeChat) through successes and failures, records every
// answer, and validates each one against /openapi.json with
// pb33f/libopenapi-validator, an OpenAPI 3.1 validator independent of the
// code that writes the document: a status the operation does not list, a
// body or a required header that does not match, fails. Every operation of
// the document must have been exercised. A 405 (a method the path does not
// list, which OpenAPI cannot attach to an operation) must carry the Error
// body and an Allow header naming exactly the documented methods.
func TestOpenAPIContract(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	// On the same Redis: tight limits (429) and short scenes (410).
	tight := servertest.Start(t, servertest.Options{RedisURL: inst.Redis.URL(), DatabaseURL: inst.DatabaseURL, SceneTTL: time.Second,
		Limits: app.Limits{CreatePerIP: 1, LoginPerIP: 2, ScanPerUser: 1, PollPerScene: 1}})
	rec := &recorder{}
	c, ct := newClient(t, inst), newClient(t, tight)
	c.hc.Transport, ct.hc.Transport = rec, rec
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc.CheckRedirect, ct.hc.CheckRedirect = noFollow, noFollow
	sc0 := "0123456789abcdef0123456789abcdef"

	// Operations, pages and OPTIONS.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/", "/scanlogin.js", "/static/index.js",
		"/static/site.css", "/static/favicon.svg", "/static/index.html", "/static/nope.js", "/api/v1/config", "/.well-known/jwks.json",
		"/dev/phone?scene=" + sc0} {
		c.req("GET", p, "", nil)
	}
	for _, p := range []string{"/healthz", "/readyz", "/"} {
		c.req("HEAD", p, "", nil).must(t, 200)
	}
	docBody := c.req("GET", "/openapi.json", "", nil).must(t, 200).Body
	var doc map[string]any
	if err := json.Unmarshal(docBody, &doc); err != nil {
		t.Fatal(err)
	}
	docPaths, _ := doc["paths"].(map[string]any)
	concrete := func(p string) string {
		r := strings.NewReplacer("{scene}", sc0, "{id}", sc0, "{path}", "login")
		return r.Replace(p)
	}
	for p := range docPaths {
		if p != "/dev/wechat/{path}" && !oidcPath(docPaths, p) {
			c.req("OPTIONS", concrete(p), "", nil)
		}
	}
	// 405 and 413 on any route.
	c.req("PUT", "/api/v1/qr", "", map[string]any{})
	c.req("GET", "/api/v1/qr/"+sc0+"/redeem", "", nil)
	c.req("POST", "/healthz", "", nil)
	big := `{"x":"` + strings.Repeat("a", 70<<10) + `"}`
	c.req("POST", "/api/v1/qr", "", big)
	c.req("GET", "/healthz", "", big)

	// The browser's scene.
	sc := c.create()
	c.req("POST", "/api/v1/qr", "", `{"x":1}`, "Content-Type", "text/plain")
	c.req("POST", "/api/v1/qr", "", `{"x":`)
	c.req("POST", "/api/v1/qr", "", `null`)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil).must(t, 200)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/link", "", nil, "Accept", "application/json").must(t, 200)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/link", "", nil).must(t, 302)
	c.req("GET", "/api/v1/qr/"+sc0+"/link", "", nil, "Accept", "application/json").must(t, 404)
	c.req("GET", "/api/v1/qr/"+sc0+"/link", "", nil, "Accept", "text/html").must(t, 404)
	c.req("GET", "/api/v1/qr/NOT-A-SCENE/image", "", nil)
	c.req("GET", "/api/v1/qr/"+sc0+"/image", "", nil)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=0", sc.PollToken, nil).must(t, 200)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/state?wait=31", sc.PollToken, nil).must(t, 400)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/state", "", nil).must(t, 401)
	c.req("GET", "/api/v1/qr/"+sc0+"/state", sc.PollToken, nil).must(t, 404)

	// The phone.
	c.req("POST", "/dev/wechat/login", "", map[string]string{"openid": newOpenID(), "nickname": "Ann"}).must(t, 200)
	c.req("POST", "/dev/wechat/login", "", "{").must(t, 400)
	tok, _ := c.login(inst, "Ann")
	other, _ := c.login(inst, "Bob")
	c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": "no-such-code"}).must(t, 401)
	c.req("POST", "/api/v1/mp/login", "", `{"code":null}`).must(t, 400)
	inst.Fake.Inject(wxfake.APICode2Session, wxfake.Fault{Errcode: -1, Times: 10})
	c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": "busy"}).must(t, 502)
	inst.Fake.ClearFaults()
	c.req("GET", "/api/v1/mp/me", tok, nil).must(t, 200)
	c.req("GET", "/api/v1/mp/me", "", nil).must(t, 401)
	c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"nickname": "Ann", "avatar_url": "https://thirdwx.qlogo.cn/mmopen/a/132"}).must(t, 200)
	c.req("PATCH", "/api/v1/mp/me", tok, `{"nickname":null}`).must(t, 400)
	c.req("PATCH", "/api/v1/mp/me", tok, `{"nickname":"a"}`, "Content-Type", "text/plain").must(t, 415)
	avatarURL := upload(t, c, tok, encodePNG(t, testImage(16, 16))).must(t, 200).str("avatar_url")
	upload(t, c, tok, append([]byte("\x89PNG\r\n\x1a\n"), "garbage"...)).must(t, 400)
	upload(t, c, tok, []byte("<svg/>")).must(t, 415)
	served := c.req("GET", strings.TrimPrefix(avatarURL, inst.URL), "", nil).must(t, 200)
	c.req("GET", strings.TrimPrefix(avatarURL, inst.URL), "", nil, "If-None-Match", served.Header.Get("ETag")).must(t, 304)
	c.req("PUT", "/api/v1/mp/me", tok, map[string]any{"avatar_url": avatarURL}).must(t, 200)
	c.req("PUT", "/api/v1/mp/me", tok, `{"avatar_url":null}`).must(t, 400)
	c.req("GET", "/api/v1/avatars/"+sc0, "", nil).must(t, 404)
	openID := newOpenID()
	code := c.req("POST", "/dev/wechat/phonecode", "", map[string]string{"openid": openID, "phone_number": "13800138000"}).must(t, 200).str("code")
	phoneTok := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": inst.MintCode(t, openID, "")}).must(t, 200).str("token")
	c.req("POST", "/api/v1/mp/me/phone", phoneTok, map[string]string{"code": code}).must(t, 200)
	c.req("POST", "/api/v1/mp/me/phone", phoneTok, map[string]string{}).must(t, 400)

	// Scan, confirm, redeem and their refusals.
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", other, nil).must(t, 409)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200) // scanned_by
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", other, nil).must(t, 403)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 409)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200) // the scanner again: the scene as it stands, confirmed
	red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 409)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/cancel", tok, nil).must(t, 409)
	c.req("DELETE", "/api/v1/qr/"+sc.ID, sc.PollToken, nil).must(t, 409)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil).must(t, 409)
	c.req("POST", "/api/v1/qr/"+sc0+"/scan", tok, nil).must(t, 404)
	c.req("POST", "/api/v1/qr/"+sc0+"/scan", "", nil).must(t, 401)
	declined := c.create()
	c.req("POST", "/api/v1/qr/"+declined.ID+"/scan", tok, nil).must(t, 200)
	c.req("POST", "/api/v1/qr/"+declined.ID+"/cancel", tok, nil).must(t, 200)
	abandoned := c.create()
	c.req("DELETE", "/api/v1/qr/"+abandoned.ID, abandoned.PollToken, nil).must(t, 200)

	// The web session.
	access, refresh := red.str("access_token"), red.str("refresh_token")
	c.req("GET", "/api/v1/me", access, nil).must(t, 200)
	c.req("GET", "/api/v1/me", "", nil).must(t, 401)
	c.req("GET", "/api/v1/me", "", nil, "Cookie", "scanlogin_session="+access, "Origin", "https://evil.example").must(t, 403)
	c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}, "Origin", "https://evil.example").must(t, 403)
	next := c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}).must(t, 200)
	c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": "nope"}).must(t, 401)
	c.req("POST", "/api/v1/session/refresh", "", `{"refresh_token":null}`).must(t, 400)
	sessions := c.req("GET", "/api/v1/mp/sessions", tok, nil).must(t, 200)
	list, _ := sessions.JSON["sessions"].([]any)
	if len(list) == 0 {
		t.Fatalf("no sessions: %s", sessions.Body)
	}
	c.req("DELETE", "/api/v1/mp/sessions/"+sc0, tok, nil).must(t, 404)
	c.req("POST", "/api/v1/session/logout", next.str("access_token"), nil).must(t, 204)
	c.req("POST", "/api/v1/session/logout", next.str("access_token"), nil).must(t, 401)
	sc2, tok2 := c.confirmed(inst)
	red2 := c.req("POST", "/api/v1/qr/"+sc2.ID+"/redeem", sc2.PollToken, nil).must(t, 200)
	sid := c.req("GET", "/api/v1/mp/sessions", tok2, nil).must(t, 200).JSON["sessions"].([]any)[0].(map[string]any)["id"].(string)
	c.req("DELETE", "/api/v1/mp/sessions/"+sid, tok2, nil).must(t, 204)
	c.req("GET", "/api/v1/me", red2.str("access_token"), nil).must(t, 401)

	// Limits (429) and expiry (410) on the tight instance.
	short := ct.create()
	ct.req("POST", "/api/v1/qr", "", nil).must(t, 429)
	ct.req("GET", "/api/v1/qr/"+short.ID+"/state", short.PollToken, nil).must(t, 200)
	ct.req("GET", "/api/v1/qr/"+short.ID+"/state", short.PollToken, nil).must(t, 429)
	time.Sleep(1100 * time.Millisecond)
	ct.req("DELETE", "/api/v1/qr/"+short.ID, short.PollToken, nil).must(t, 410)
	ct.req("GET", "/api/v1/qr/"+short.ID+"/image", "", nil).must(t, 410)
	// A user the other instance's generous limits never counted: the rate
	// limit state is shared through Redis.
	fresh, _ := c.login(inst, "")
	ct.req("POST", "/api/v1/qr/"+short.ID+"/scan", fresh, nil).must(t, 410)

	// Admission control (503 overloaded): an instance with its one slot
	// taken refuses new work, in the API's shape or, to a browser opening
	// the link, as a page.
	busy := servertest.Start(t, servertest.Options{RedisURL: inst.Redis.URL(), DatabaseURL: inst.DatabaseURL,
		Admission: server.AdmissionConfig{Limit: 1, LowWait: time.Millisecond}})
	cb := newClient(t, busy)
	cb.hc.Transport, cb.hc.CheckRedirect = rec, noFollow
	release := holdSlot(t, busy, cb)
	cb.req("POST", "/api/v1/qr", "", nil).must(t, 503)
	cb.req("GET", "/api/v1/qr/"+sc0+"/link", "", nil, "Accept", "text/html").must(t, 503)
	release().must(t, 200)

	// Redis down (503).
	inst.Redis.Stop()
	c.req("POST", "/api/v1/qr", "", nil).must(t, 503)
	c.req("GET", "/readyz", "", nil).must(t, 503)
	c.req("GET", "/api/v1/mp/me", tok, nil).must(t, 503)
	c.req("GET", "/api/v1/qr/"+sc0+"/state", "x", nil).must(t, 503)

	// Validate every answer.
	d, err := libopenapi.NewDocument(docBody)
	if err != nil {
		t.Fatal(err)
	}
	v, verrs := validator.NewValidator(d)
	if len(verrs) > 0 {
		t.Fatalf("validator: %v", verrs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("the document is not valid OpenAPI: %s: %s", e.Message, e.Reason)
		}
	}
	model, err := d.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	opts := config.NewValidationOptions()
	covered := map[string]bool{}
	for _, x := range rec.seen {
		what := fmt.Sprintf("%s %s -> %d", x.req.Method, x.req.URL.RequestURI(), x.status)
		if x.status == http.StatusMethodNotAllowed {
			checkMethodNotAllowed(t, docPaths, x, what)
			continue
		}
		if _, _, tmpl := paths.FindPath(x.req, &model.Model, opts); tmpl != "" {
			covered[strings.ToLower(x.req.Method)+" "+tmpl] = true
		}
		if x.req.Header.Get("Accept") == "text/html" && x.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: an HTML error page without Content-Security-Policy", what)
		}
		if ok, errs := v.ValidateHttpResponse(x.req, x.response()); !ok {
			for _, e := range errs {
				t.Errorf("%s: %s (%s) body %.200s", what, e.Message, e.Reason, x.body)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("   %s: %s", se.FieldPath, se.Reason)
				}
			}
		}
	}
	var missing []string
	for p, item := range docPaths {
		if oidcPath(docPaths, p) {
			continue // the OpenID provider follows its standards, not this document
		}
		for m := range item.(map[string]any) {
			if m != "parameters" && !covered[m+" "+p] {
				missing = append(missing, m+" "+p)
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("operation %s was never exercised", m)
	}
}

// oidcPath reports a path of the OpenID provider (tagged "openid connect",
// or its dev demo client), which server/openapi.go lists but the OpenID
// Connect and OAuth 2.0 standards describe.
func oidcPath(docPaths map[string]any, p string) bool {
	if strings.HasPrefix(p, "/dev/rp/") {
		return true
	}
	for _, o := range docPaths[p].(map[string]any) {
		op, _ := o.(map[string]any)
		if tags, _ := op["tags"].([]any); len(tags) > 0 && tags[0] == "openid connect" {
			return true
		}
	}
	return false
}

// checkMethodNotAllowed: the Error body, code method_not_allowed, and an
// Allow header with exactly the documented methods of the path.
func checkMethodNotAllowed(t *testing.T, docPaths map[string]any, x exchange, what string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(x.body, &body); err != nil || body.Error.Code != "method_not_allowed" || body.Error.Message == "" {
		t.Errorf("%s: body %s", what, x.body)
	}
	var tmpl string
	for p := range docPaths {
		if matchTemplate(p, x.req.URL.Path) {
			tmpl = p
		}
	}
	if tmpl == "" {
		t.Errorf("%s: no documented path", what)
		return
	}
	var want []string
	for m := range docPaths[tmpl].(map[string]any) {
		if m != "parameters" {
			want = append(want, strings.ToUpper(m))
		}
	}
	var got []string
	for _, m := range strings.Split(x.header.Get("Allow"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			got = append(got, m)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: Allow %v, the document lists %v", what, got, want)
	}
}

func matchTemplate(tmpl, path string) bool {
	a, b := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !strings.HasPrefix(a[i], "{") {
			return false
		}
	}
	return true
}
