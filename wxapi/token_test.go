package wxapi_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

func TestAccessTokenRequestAndCache(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	tok, err := e.cl.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := e.rec.last(t, "/cgi-bin/stable_token")
	if req.Method != "POST" || !strings.HasPrefix(req.ContentType, "application/json") || len(req.Query) != 0 {
		t.Fatalf("request = %+v", req)
	}
	body := decodeJSON(t, req.Body)
	if body["grant_type"] != "client_credential" || body["appid"] != e.fake.AppID() || body["secret"] != e.fake.Secret() ||
		body["force_refresh"] != false || len(body) != 4 {
		t.Fatalf("body = %v", body)
	}
	for range 5 {
		if again, err := e.cl.AccessToken(ctx); err != nil || again != tok {
			t.Fatalf("cached token: %q, %v", again, err)
		}
	}
	if n := e.fake.Calls(wxfake.APIStableToken); n != 1 {
		t.Fatalf("%d token fetches, want 1", n)
	}

	// Ahead of expiry (inside stable_token's last 5 minutes) the client
	// fetches again in the background, handing out the still-valid token
	// meanwhile; WeChat answers with a new token.
	e.clock.Advance(7200*time.Second - 3*time.Minute)
	waitNewToken(t, e.cl, tok)
	if n := e.fake.Calls(wxfake.APIStableToken); n != 2 {
		t.Fatalf("%d token fetches, want 2", n)
	}
	if body := decodeJSON(t, e.rec.last(t, "/cgi-bin/stable_token").Body); body["force_refresh"] != false {
		t.Fatalf("refresh used force_refresh: %v", body)
	}
}

// waitNewToken calls AccessToken until it returns something else than old
// (a refresh ahead of expiry runs in the background), failing on errors.
func waitNewToken(t *testing.T, cl *wxapi.Client, old string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tok, err := cl.AccessToken(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if tok != old {
			return tok
		}
		if time.Now().After(deadline) {
			t.Fatal("the token was not refreshed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A refresh ahead of expiry that fails leaves the still-valid token in use,
// and nobody waits for it.
func TestAccessTokenRefreshFailureKeepsValidToken(t *testing.T) {
	e := setup(t, func(_ *wxfake.Options, c *wxapi.Config) { c.Timeout = 200 * time.Millisecond })
	ctx := t.Context()
	tok, err := e.cl.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(7200*time.Second - 3*time.Minute)
	e.fake.Inject(wxfake.APIStableToken, wxfake.Fault{Hang: true, Times: 3})
	start := time.Now()
	for range 3 {
		if got, err := e.cl.AccessToken(ctx); err != nil || got != tok {
			t.Fatalf("got %q, %v; want the cached token", got, err)
		}
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("callers waited %v for a refresh they did not need", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.fake.Calls(wxfake.APIStableToken) < 4 { // the 3 hanging attempts are over
		if time.Now().After(deadline) {
			t.Fatalf("%d token calls, want 4", e.fake.Calls(wxfake.APIStableToken))
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.fake.Inject(wxfake.APIStableToken, wxfake.Fault{Errcode: -1})
	e.clock.Advance(3 * time.Minute) // now really expired
	if _, err := e.cl.AccessToken(ctx); !errors.Is(err, wxapi.ErrUnavailable) {
		t.Fatalf("expired and WeChat busy: %v", err)
	}
}

func TestAccessTokenErrors(t *testing.T) {
	e := setup(t, func(o *wxfake.Options, c *wxapi.Config) {})
	bad, err := wxapi.New(wxapi.Config{AppID: e.fake.AppID(), Secret: "wrong", BaseURL: e.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var we *wxapi.Error
	if _, err := bad.AccessToken(t.Context()); !errors.As(err, &we) || we.Code != 40125 || we.API != "stable_token" {
		t.Fatalf("wrong secret: %v", err)
	}
	e.fake.Inject(wxfake.APIStableToken, wxfake.Fault{Errcode: 45009, Times: 1})
	if _, err := e.cl.AccessToken(t.Context()); !errors.Is(err, wxapi.ErrDailyQuota) {
		t.Fatalf("quota: %v", err)
	}
	// A failed business call reports the token error, not a panic or a hang.
	e.fake.Inject(wxfake.APIStableToken, wxfake.Fault{Errcode: 40013})
	if _, err := e.cl.PhoneNumber(t.Context(), "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"); !errors.As(err, &we) || we.Code != 40013 {
		t.Fatalf("phone number without a token: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []wxapi.Config{
		{Secret: "s"},
		{AppID: "wx"},
		{AppID: "wx", Secret: "s", BaseURL: "ftp://example.com"},
		{AppID: "wx", Secret: "s", BaseURL: "not a url"},
	} {
		if _, err := wxapi.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// Every token error from a business endpoint costs one normal-mode re-fetch
// and one retry; the token is in the query, never in the body.
func TestTokenRejectedOnce(t *testing.T) {
	for _, code := range []int{40001, 42001, 40014} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			e := setup(t, nil)
			ctx := t.Context()
			pc, _ := e.fake.MintPhoneCode(ctx, "oTok", "13800138000")
			if _, err := e.cl.AccessToken(ctx); err != nil {
				t.Fatal(err)
			}
			e.fake.Inject(wxfake.APIPhoneNumber, wxfake.Fault{Errcode: code, Times: 1})
			p, err := e.cl.PhoneNumber(ctx, pc)
			if err != nil || p.PurePhoneNumber != "13800138000" {
				t.Fatalf("got %+v, %v", p, err)
			}
			if n := e.fake.Calls(wxfake.APIStableToken); n != 2 {
				t.Fatalf("%d token fetches, want 2", n)
			}
			if n := e.fake.Calls(wxfake.APIPhoneNumber); n != 2 {
				t.Fatalf("%d phone calls, want 2", n)
			}
			req := e.rec.last(t, "/wxa/business/getuserphonenumber")
			if req.Query.Get("access_token") == "" || bytes.Contains(req.Body, []byte("access_token")) {
				t.Fatalf("token not (only) in the query: %+v", req)
			}
			if body := decodeJSON(t, e.rec.last(t, "/cgi-bin/stable_token").Body); body["force_refresh"] != false {
				t.Fatalf("re-fetch used force_refresh: %v", body)
			}
		})
	}
}

// A token that keeps failing is retried once, not forever.
func TestTokenRejectedTwice(t *testing.T) {
	e := setup(t, nil)
	e.fake.Inject(wxfake.APICheckSession, wxfake.Fault{Errcode: 40001})
	err := e.cl.CheckSessionKey(t.Context(), "oX", "tiihtNczf5v6AKRyjwEUhQ==")
	if !errors.Is(err, wxapi.ErrTokenInvalid) {
		t.Fatalf("error = %v", err)
	}
	if n := e.fake.Calls(wxfake.APICheckSession); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	if n := e.fake.Calls(wxfake.APIStableToken); n != 2 {
		t.Fatalf("%d token fetches, want 2", n)
	}
}

// Tokens expired at the fake (ExpireTokens: 42001) are replaced by a
// normal-mode fetch, which now returns a new token.
func TestExpiredTokens(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	code, _ := e.fake.MintCode(ctx, "oExp", "")
	s, _ := e.cl.Code2Session(ctx, code)
	old, _ := e.cl.AccessToken(ctx)
	e.fake.ExpireTokens()
	if err := e.cl.CheckSessionKey(ctx, s.OpenID, s.SessionKey); err != nil {
		t.Fatal(err)
	}
	if tok, _ := e.cl.AccessToken(ctx); tok == old {
		t.Fatal("still the expired token")
	}
}

// In-process single flight: 100 concurrent callers, one fetch.
func TestSingleFlightInProcess(t *testing.T) {
	e := setup(t, nil)
	e.fake.Inject(wxfake.APIStableToken, wxfake.Fault{Delay: 50 * time.Millisecond, Times: 1})
	var wg sync.WaitGroup
	toks := make([]string, 100)
	errs := make([]error, 100)
	for i := range 100 {
		wg.Go(func() { toks[i], errs[i] = e.cl.AccessToken(t.Context()) })
	}
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != toks[0] {
			t.Fatalf("caller %d: %q, %v", i, toks[i], errs[i])
		}
	}
	if n := e.fake.Calls(wxfake.APIStableToken); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// A caller that gives up does not spoil the fetch for the others.
func TestSingleFlightCallerCancels(t *testing.T) {
	e := setup(t, nil)
	e.fake.Inject(wxfake.APIStableToken, wxfake.Fault{Delay: 200 * time.Millisecond, Times: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.cl.AccessToken(t.Context())
		done <- err
	}()
	if _, err := e.cl.AccessToken(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient caller: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("patient caller: %v", err)
	}
}
