package wxapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

func TestCode2Session(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	code, err := e.fake.MintCode(ctx, "oGZUI0egBJY1zhBYw2KhdUfwVJJE", "Band")
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.cl.Code2Session(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := e.fake.SessionKey(ctx, "oGZUI0egBJY1zhBYw2KhdUfwVJJE")
	if s.OpenID != "oGZUI0egBJY1zhBYw2KhdUfwVJJE" || s.SessionKey != sk || len(s.UnionID) != 28 {
		t.Fatalf("session = %+v, fake session key %q", s, sk)
	}
	req := e.rec.last(t, "/sns/jscode2session")
	q := req.Query
	if req.Method != "GET" || q.Get("appid") != e.fake.AppID() || q.Get("secret") != e.fake.Secret() ||
		q.Get("js_code") != code || q.Get("grant_type") != "authorization_code" || len(req.Body) != 0 {
		t.Fatalf("request = %+v", req)
	}

	// The same user logging in again keeps the session key.
	code2, _ := e.fake.MintCode(ctx, "oGZUI0egBJY1zhBYw2KhdUfwVJJE", "")
	s2, err := e.cl.Code2Session(ctx, code2)
	if err != nil || s2.SessionKey != sk || s2.UnionID != s.UnionID {
		t.Fatalf("second login = %+v, %v", s2, err)
	}

	if _, err := e.cl.Code2Session(ctx, code); !errors.Is(err, wxapi.ErrCodeUsed) {
		t.Fatalf("reused code: %v", err)
	}
	var we *wxapi.Error
	if _, err := e.cl.Code2Session(ctx, code); !errors.As(err, &we) || we.Code != 40163 || we.API != "jscode2session" || !strings.Contains(we.Msg, " rid: ") {
		t.Fatalf("reused code error = %#v", err)
	}
	if _, err := e.cl.Code2Session(ctx, "0712cDoV0cfty22AeloV0daMoV02cDog"); !errors.Is(err, wxapi.ErrInvalidCode) {
		t.Fatalf("unknown code: %v", err)
	}
	before := e.fake.Calls(wxfake.APICode2Session)
	if _, err := e.cl.Code2Session(ctx, ""); !errors.Is(err, wxapi.ErrInvalidCode) {
		t.Fatalf("empty code: %v", err)
	}
	if e.fake.Calls(wxfake.APICode2Session) != before {
		t.Fatal("an empty code was sent to WeChat")
	}
	old, _ := e.fake.MintCode(ctx, "oUser2", "")
	e.clock.Advance(5 * time.Minute)
	if _, err := e.cl.Code2Session(ctx, old); !errors.Is(err, wxapi.ErrInvalidCode) {
		t.Fatalf("code 5 minutes old: %v", err)
	}
	fresh, _ := e.fake.MintCode(ctx, "oUser2", "")
	e.clock.Advance(5*time.Minute - time.Second)
	if _, err := e.cl.Code2Session(ctx, fresh); err != nil {
		t.Fatalf("code just under 5 minutes old: %v", err)
	}
}

func TestCode2SessionMinuteQuota(t *testing.T) {
	e := setup(t, func(o *wxfake.Options, _ *wxapi.Config) { o.UserMinuteQuota = 2 })
	ctx := t.Context()
	var codes []string
	for range 4 {
		c, _ := e.fake.MintCode(ctx, "oQuota", "")
		codes = append(codes, c)
	}
	for _, c := range codes[:2] {
		if _, err := e.cl.Code2Session(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.cl.Code2Session(ctx, codes[2]); !errors.Is(err, wxapi.ErrMinuteQuota) {
		t.Fatalf("third login in a minute: %v", err)
	}
	// The limited code was not spent: it works the next minute.
	e.clock.Advance(time.Minute)
	if _, err := e.cl.Code2Session(ctx, codes[2]); err != nil {
		t.Fatalf("next minute: %v", err)
	}
}

// TestErrors maps every listed errcode to its sentinel through real HTTP,
// and checks retries: -1 and transport failures are retried (3 attempts in
// all), other errcodes are not.
func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		fault    wxfake.Fault
		sentinel error
		calls    int // requests the fake sees
		ok       bool
	}{
		{name: "invalid code", fault: wxfake.Fault{Errcode: 40029}, sentinel: wxapi.ErrInvalidCode, calls: 1},
		{name: "code used", fault: wxfake.Fault{Errcode: 40163}, sentinel: wxapi.ErrCodeUsed, calls: 1},
		{name: "minute quota", fault: wxfake.Fault{Errcode: 45011}, sentinel: wxapi.ErrMinuteQuota, calls: 1},
		{name: "risky user", fault: wxfake.Fault{Errcode: 40226}, sentinel: wxapi.ErrRiskyUser, calls: 1},
		{name: "daily quota", fault: wxfake.Fault{Errcode: 45009}, sentinel: wxapi.ErrDailyQuota, calls: 1},
		{name: "busy once then ok", fault: wxfake.Fault{Errcode: -1, Times: 1}, calls: 2, ok: true},
		{name: "busy twice then ok", fault: wxfake.Fault{Errcode: -1, Times: 2}, calls: 3, ok: true},
		{name: "always busy", fault: wxfake.Fault{Errcode: -1}, sentinel: wxapi.ErrSystemBusy, calls: 3},
		// A call that reached WeChat and got no answer in time may have
		// spent the code: unavailable (502), never sent again (a second
		// try would be 40163, "code used", for a user whose code was good).
		{name: "hang once", fault: wxfake.Fault{Hang: true, Times: 1}, sentinel: wxapi.ErrUnavailable, calls: 1},
		{name: "always hangs", fault: wxfake.Fault{Hang: true}, sentinel: wxapi.ErrUnavailable, calls: 1},
		{name: "slower than the timeout", fault: wxfake.Fault{Delay: time.Second}, sentinel: wxapi.ErrUnavailable, calls: 1},
		{name: "slow but in time", fault: wxfake.Fault{Delay: 50 * time.Millisecond}, calls: 1, ok: true},
		{name: "not JSON", fault: wxfake.Fault{Body: "<html>bad gateway</html>", ContentType: "text/html"}, sentinel: wxapi.ErrUnavailable, calls: 1},
		{name: "errcode as a string", fault: wxfake.Fault{Body: `{"errcode":"40163","errmsg":"code been used"}`}, sentinel: wxapi.ErrCodeUsed, calls: 1},
		{name: "old text/plain error", fault: wxfake.Fault{Body: `{"errcode":40029,"errmsg":"invalid code, hints: [ req_id: AijFoqaLRa-pTFm4 ]"}`, ContentType: "text/plain"}, sentinel: wxapi.ErrInvalidCode, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(_ *wxfake.Options, c *wxapi.Config) { c.Timeout = 300 * time.Millisecond })
			code, _ := e.fake.MintCode(t.Context(), "oErrors", "")
			e.fake.Inject(wxfake.APICode2Session, tt.fault)
			s, err := e.cl.Code2Session(t.Context(), code)
			if tt.ok {
				if err != nil || s.OpenID != "oErrors" {
					t.Fatalf("got %+v, %v", s, err)
				}
			} else if !errors.Is(err, tt.sentinel) {
				t.Fatalf("error %v does not match %v", err, tt.sentinel)
			}
			if got := e.fake.Calls(wxfake.APICode2Session); got != tt.calls {
				t.Fatalf("fake saw %d calls, want %d", got, tt.calls)
			}
			if err != nil {
				for _, secret := range []string{e.fake.Secret(), code} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error text %q leaks a secret", err)
					}
				}
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	e := setup(t, nil)
	e.srv.Close()
	_, err := e.cl.Code2Session(t.Context(), "0712cDoV0cfty22AeloV0daMoV02cDog")
	if !errors.Is(err, wxapi.ErrUnavailable) {
		t.Fatalf("closed server: %v", err)
	}
	var we *wxapi.Error
	if errors.As(err, &we) {
		t.Fatalf("a transport failure is not a WeChat answer: %#v", we)
	}
	if strings.Contains(err.Error(), e.fake.Secret()) || strings.Contains(err.Error(), "0712cDoV0cfty22AeloV0daMoV02cDog") {
		t.Fatalf("error text %q leaks the secret or the code", err)
	}
}

func TestCallerContext(t *testing.T) {
	e := setup(t, nil)
	e.fake.Inject(wxfake.APICode2Session, wxfake.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.cl.Code2Session(ctx, "0712cDoV0cfty22AeloV0daMoV02cDog")
	if !errors.Is(err, wxapi.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v after the caller's deadline", d)
	}
}

func TestCheckSessionKey(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	code, _ := e.fake.MintCode(ctx, "oCheck", "")
	s, err := e.cl.Code2Session(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cl.CheckSessionKey(ctx, s.OpenID, s.SessionKey); err != nil {
		t.Fatal(err)
	}
	req := e.rec.last(t, "/wxa/checksession")
	tok, _ := e.cl.AccessToken(ctx)
	if req.Method != "GET" || req.Query.Get("access_token") != tok || req.Query.Get("openid") != "oCheck" ||
		req.Query.Get("sig_method") != "hmac_sha256" || req.Query.Get("signature") != wxapi.CheckSessionSignature(s.SessionKey) {
		t.Fatalf("request = %+v", req)
	}
	if _, err := e.fake.RotateSessionKey(ctx, "oCheck"); err != nil {
		t.Fatal(err)
	}
	if err := e.cl.CheckSessionKey(ctx, s.OpenID, s.SessionKey); !errors.Is(err, wxapi.ErrInvalidSignature) {
		t.Fatalf("stale key: %v", err)
	}
}

// The checksession vector from the fact sheet (§5a): the key is the base64
// text, the message empty.
func TestCheckSessionSignatureVector(t *testing.T) {
	const want = "7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735"
	if got := wxapi.CheckSessionSignature("tiihtNczf5v6AKRyjwEUhQ=="); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

// TestRetryOnlyWhatIsSafe: a call without a single-use code (here the
// mini-program code image) is tried again after a hang; a code-spending call
// is tried again only when nothing was sent (WeChat unreachable: the fake's
// server closed, TestUnreachable) or WeChat asked for it (-1, TestErrors).
func TestRetryOnlyWhatIsSafe(t *testing.T) {
	e := setup(t, func(_ *wxfake.Options, c *wxapi.Config) { c.Timeout = 300 * time.Millisecond })
	e.fake.Inject(wxfake.APIQRCode, wxfake.Fault{Hang: true, Times: 1})
	if _, _, err := e.cl.UnlimitedQRCode(t.Context(), "abc", "", "", false, 0); err != nil {
		t.Fatalf("the code image after one hang: %v", err)
	}
	if got := e.fake.Calls(wxfake.APIQRCode); got != 2 {
		t.Fatalf("the fake saw %d image calls, want 2 (one retry)", got)
	}
	// The fake spends a code it got, even when it never answers: the same
	// code sent again is 40163, as at WeChat.
	code, _ := e.fake.MintCode(t.Context(), "oSpent", "")
	e.fake.Inject(wxfake.APICode2Session, wxfake.Fault{Hang: true, Times: 1})
	if _, err := e.cl.Code2Session(t.Context(), code); !errors.Is(err, wxapi.ErrUnavailable) {
		t.Fatalf("a hung code2session: %v", err)
	}
	if _, err := e.cl.Code2Session(t.Context(), code); !errors.Is(err, wxapi.ErrCodeUsed) {
		t.Fatalf("the same code again after the hang: %v, want 40163", err)
	}
}
