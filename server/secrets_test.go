package server_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestNoSecretsInLogsOrResponses runs the flow with every log line captured
// at debug level by a plain JSON handler (no redaction, so the server's own
// discipline is tested, not the safety net) and checks that no token, code,
// poll token or session key is in any log line, nor in any response but the
// one meant to carry it.
func TestNoSecretsInLogsOrResponses(t *testing.T) {
	logs := &servertest.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// No reuse window: the spent refresh token below is refused at once.
	inst := servertest.Start(t, servertest.Options{Logger: logger, RefreshReuseWindow: -1})
	c := newClient(t, inst)
	c.record = true

	// secret -> the one request whose answer may carry it ("" = none).
	secrets := map[string]string{}
	openID := newOpenID()
	codeResp := c.req("POST", "/dev/wechat/login", "", map[string]string{"openid": openID}).must(t, 200)
	code := codeResp.str("code")
	secrets[code] = "POST /dev/wechat/login"
	login := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code}).must(t, 200)
	mpToken := login.str("token")
	secrets[mpToken] = "POST /api/v1/mp/login"
	sessionKey, err := inst.Fake.SessionKey(context.Background(), openID)
	if err != nil || sessionKey == "" {
		t.Fatalf("session key: %v", err)
	}
	secrets[sessionKey] = ""
	secrets[inst.Fake.Secret()] = ""

	// Failed attempts with the code again and with garbage.
	c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code}).must(t, 401)

	created := c.req("POST", "/api/v1/qr", "", nil).must(t, 201)
	id, poll := created.str("scene"), created.str("poll_token")
	secrets[poll] = "POST /api/v1/qr"
	// A client that puts a token in a URL it makes up gets a 404 (or a
	// 400 for the scene); the access line's path must not keep the token.
	c.req("GET", "/api/v1/qr/"+id+"/state/"+poll, "", nil).must(t, 404)
	c.req("GET", "/"+poll, "", nil).must(t, 404)
	c.req("GET", "/api/v1/qr/"+poll+"/state", "", nil).must(t, 400)
	c.req("GET", "/api/v1/qr/"+id+"/image", "", nil).must(t, 200)
	c.req("GET", "/api/v1/qr/"+id+"/state", poll, nil).must(t, 200)
	c.req("GET", "/api/v1/qr/"+id+"/state", poll+"x", nil).must(t, 401)
	c.req("POST", "/api/v1/qr/"+id+"/scan", mpToken, nil).must(t, 200)
	c.req("POST", "/api/v1/qr/"+id+"/scan", mpToken+"x", nil).must(t, 401)
	c.req("POST", "/api/v1/qr/"+id+"/confirm", mpToken, nil).must(t, 200)
	red := c.req("POST", "/api/v1/qr/"+id+"/redeem", poll, nil).must(t, 200)
	access, refresh := red.str("access_token"), red.str("refresh_token")
	secrets[access] = "POST /api/v1/qr/" + id + "/redeem"
	secrets[refresh] = "POST /api/v1/qr/" + id + "/redeem"
	c.req("POST", "/api/v1/qr/"+id+"/redeem", poll, nil).must(t, 409)
	c.req("GET", "/api/v1/me", access, nil).must(t, 200)
	c.req("GET", "/api/v1/me", access+"x", nil).must(t, 401)

	phoneCode := c.req("POST", "/dev/wechat/phonecode", "", map[string]string{"openid": openID, "phone_number": "13800138000"}).must(t, 200).str("code")
	secrets[phoneCode] = "POST /dev/wechat/phonecode"
	ph := c.req("POST", "/api/v1/mp/me/phone", mpToken, map[string]string{"code": phoneCode}).must(t, 200)
	if got := ph.str("phone_number"); got != "*******8000" {
		t.Errorf("masked phone %q", got)
	}
	secrets["13800138000"] = ""
	me := c.req("GET", "/api/v1/mp/me", mpToken, nil).must(t, 200)
	if me.JSON["has_phone"] != true {
		t.Errorf("has_phone: %s", me.Body)
	}

	ref := c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}).must(t, 200)
	secrets[ref.str("access_token")] = "POST /api/v1/session/refresh"
	secrets[ref.str("refresh_token")] = "POST /api/v1/session/refresh"
	c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}).must(t, 401)
	c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": "garbage-code-" + code}).must(t, 401)

	// A failing WeChat and a failing Redis also log.
	inst.Redis.Stop()
	c.req("GET", "/api/v1/mp/me", mpToken, nil).must(t, 503)
	inst.Redis.Restart()
	time.Sleep(100 * time.Millisecond)

	all := logs.String()
	if !strings.Contains(all, `"audit"`) || !strings.Contains(all, `"scene":"`+id+`"`) {
		t.Errorf("no audit lines for the scene in the log")
	}
	for secret, allowed := range secrets {
		if len(secret) < 8 {
			t.Fatalf("secret %q too short to test", secret)
		}
		if strings.Contains(all, secret) {
			t.Errorf("a secret meant for %q is in the logs", allowed)
		}
		for _, r := range c.recorded {
			if strings.Contains(r.raw, secret) && r.what != allowed {
				t.Errorf("a secret meant for %q is in the answer to %s", allowed, r.what)
			}
		}
	}
}
