package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// client talks to one Instance over real HTTP.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client

	mu       sync.Mutex
	recorded []recorded // every answer, when record is set
	record   bool
}

// recorded is one answer as the network carried it.
type recorded struct {
	what string // "METHOD path"
	raw  string // headers and body
}

func newClient(t testing.TB, inst *servertest.Instance) *client {
	return &client{t: t, base: inst.URL, hc: &http.Client{}}
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Close  bool // the server closes the connection after it
	Body   []byte
	JSON   map[string]any
}

// errCode is the error code of an error answer.
func (r *response) errCode() string {
	e, _ := r.JSON["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r *response) str(key string) string {
	v, _ := r.JSON[key].(string)
	return v
}

func (r *response) num(key string) int64 {
	v, _ := r.JSON[key].(float64)
	return int64(v)
}

// req sends method path with an optional bearer token and body (string,
// []byte or anything JSON-encodable), and extra headers as key, value pairs.
// See reqCtx for a request that gets no answer.
func (c *client) req(method, path, token string, body any, headers ...string) *response {
	c.t.Helper()
	return c.reqCtx(context.Background(), method, path, token, body, headers...)
}

// reqCtx is req under ctx.
//
// Tests call it from their own goroutines too (a waiting poll), where
// t.Fatal must not be called: a request that gets no answer fails the test
// with t.Errorf and returns a response of Status 0, which every check of
// the status rejects.
func (c *client) reqCtx(ctx context.Context, method, path, token string, body any, headers ...string) *response {
	c.t.Helper()
	req, err := newRequest(ctx, method, c.base+path, token, body, headers...)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return &response{}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return &response{}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Errorf("%s %s: read: %v", method, path, err)
		return &response{}
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Close: resp.Close, Body: data}
	if c.record {
		var hdr strings.Builder
		_ = resp.Header.Write(&hdr)
		c.mu.Lock()
		c.recorded = append(c.recorded, recorded{what: method + " " + path, raw: hdr.String() + "\n" + string(data)})
		c.mu.Unlock()
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(data, &r.JSON)
	}
	return r
}

// must fails the test unless the answer has status want.
func (r *response) must(t testing.TB, want int) *response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body %s", r.Status, want, r.Body)
	}
	return r
}

var openIDs atomic.Int64

// newOpenID returns a fresh, valid-looking OpenID (28 characters).
func newOpenID() string {
	return fmt.Sprintf("oTest%023d", openIDs.Add(1))
}

// login logs a new WeChat user into the mini-program; it returns the mp
// token and the user ID.
func (c *client) login(inst *servertest.Instance, nickname string) (token, userID string) {
	c.t.Helper()
	openID := newOpenID()
	code := inst.MintCode(c.t, openID, nickname)
	r := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code}).must(c.t, 200)
	user, _ := r.JSON["user"].(map[string]any)
	id, _ := user["id"].(string)
	if nickname != "" {
		c.req("PATCH", "/api/v1/mp/me", r.str("token"), map[string]string{"nickname": nickname}).must(c.t, 200)
	}
	return r.str("token"), id
}

// scene is a created scene as the browser holds it.
type scene struct {
	ID, PollToken string
}

func (c *client) create() scene {
	c.t.Helper()
	r := c.req("POST", "/api/v1/qr", "", nil).must(c.t, 201)
	return scene{ID: r.str("scene"), PollToken: r.str("poll_token")}
}

// confirmed creates a scene and takes it to confirmed with a fresh user.
func (c *client) confirmed(inst *servertest.Instance) (scene, string) {
	c.t.Helper()
	sc := c.create()
	tok, _ := c.login(inst, "")
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(c.t, 200)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(c.t, 200)
	return sc, tok
}

// newRequest is a request to the API: method url with an optional bearer
// token and body (string, []byte or anything JSON-encodable), and extra
// headers as key, value pairs.
func newRequest(ctx context.Context, method, url, token string, body any, headers ...string) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req, nil
}
