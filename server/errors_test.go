package server_test

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// TestErrorCodes produces every error code of docs/ARCHITECTURE.md#errors (and the few
// the server adds) over HTTP and checks status, code and body shape.
func TestErrorCodes(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	// Same Redis, other settings: number match, and scenes that expire fast.
	nm := servertest.Start(t, servertest.Options{RedisURL: inst.Redis.URL(), DatabaseURL: inst.DatabaseURL, NumberMatch: true})
	short := servertest.Start(t, servertest.Options{RedisURL: inst.Redis.URL(), DatabaseURL: inst.DatabaseURL, SceneTTL: time.Second})
	c, cnm, cshort := newClient(t, inst), newClient(t, nm), newClient(t, short)
	unknown := strings.Repeat("ab", 16)

	tests := []struct {
		name   string
		do     func(t *testing.T) *response
		status int
		code   string
	}{
		{"malformed JSON", func(t *testing.T) *response {
			return c.req("POST", "/api/v1/mp/login", "", `{"code":`)
		}, 400, "invalid_request"},
		{"wrong type names the field", func(t *testing.T) *response {
			r := c.req("POST", "/api/v1/mp/login", "", `{"code":123}`)
			if !strings.Contains(r.text(), "code") {
				t.Errorf("message does not name the field: %s", r.Body)
			}
			return r
		}, 400, "invalid_request"},
		{"body not an object", func(t *testing.T) *response {
			return c.req("POST", "/api/v1/session/refresh", "", `["x"]`)
		}, 400, "invalid_request"},
		{"missing field", func(t *testing.T) *response {
			return c.req("POST", "/api/v1/mp/login", "", `{"unknown_field":"is ignored"}`)
		}, 400, "invalid_request"},
		{"bad scene id", func(t *testing.T) *response {
			return c.req("GET", "/api/v1/qr/NOT-A-SCENE/state", "x", nil)
		}, 400, "invalid_request"},
		{"bad wait", func(t *testing.T) *response {
			sc := c.create()
			return c.req("GET", "/api/v1/qr/"+sc.ID+"/state?wait=soon", sc.PollToken, nil)
		}, 400, "invalid_request"},
		{"body over 64 KiB", func(t *testing.T) *response {
			return c.req("POST", "/api/v1/mp/login", "", `{"code":"`+strings.Repeat("x", 70<<10)+`"}`)
		}, 413, "payload_too_large"},
		{"unknown scene", func(t *testing.T) *response {
			return c.req("GET", "/api/v1/qr/"+unknown+"/state", "whatever", nil)
		}, 404, "scene_not_found"},
		{"wrong poll token", func(t *testing.T) *response {
			sc := c.create()
			return c.req("GET", "/api/v1/qr/"+sc.ID+"/state", "wrong", nil)
		}, 401, "invalid_poll_token"},
		{"missing poll token", func(t *testing.T) *response {
			sc := c.create()
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", "", nil)
		}, 401, "invalid_poll_token"},
		{"already scanned", func(t *testing.T) *response {
			sc := c.create()
			a, _ := c.login(inst, "")
			b, _ := c.login(inst, "")
			c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", a, nil).must(t, 200)
			c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", a, nil).must(t, 200) // the scanner again: idempotent
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", b, nil)
		}, 409, "already_scanned"},
		{"not scanner", func(t *testing.T) *response {
			sc := c.create()
			a, _ := c.login(inst, "")
			b, _ := c.login(inst, "")
			c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", a, nil).must(t, 200)
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", b, nil)
		}, 403, "not_scanner"},
		{"not scanned", func(t *testing.T) *response {
			sc := c.create()
			a, _ := c.login(inst, "")
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", a, nil)
		}, 409, "not_scanned"},
		{"not confirmed", func(t *testing.T) *response {
			sc := c.create()
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil)
		}, 409, "not_confirmed"},
		{"already redeemed", func(t *testing.T) *response {
			sc, _ := c.confirmed(inst)
			c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil)
		}, 409, "already_redeemed"},
		{"scene final", func(t *testing.T) *response {
			sc := c.create()
			c.req("DELETE", "/api/v1/qr/"+sc.ID, sc.PollToken, nil).must(t, 200)
			a, _ := c.login(inst, "")
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", a, nil)
		}, 409, "scene_final"},
		{"scene expired", func(t *testing.T) *response {
			sc := cshort.create()
			a, _ := cshort.login(short, "")
			time.Sleep(1100 * time.Millisecond)
			st := cshort.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
			if st.str("state") != "expired" {
				t.Errorf("state after the TTL: %s", st.Body)
			}
			return cshort.req("POST", "/api/v1/qr/"+sc.ID+"/scan", a, nil)
		}, 410, "scene_expired"},
		{"number mismatch", func(t *testing.T) *response {
			created := cnm.req("POST", "/api/v1/qr", "", nil).must(t, 201)
			if created.JSON["number_match"] != true {
				t.Errorf("number_match not true: %s", created.Body)
			}
			id, match := created.str("scene"), created.str("match_code")
			a, _ := cnm.login(nm, "")
			scan := cnm.req("POST", "/api/v1/qr/"+id+"/scan", a, nil).must(t, 200)
			choices, _ := scan.JSON["match_choices"].([]any)
			if len(choices) != 3 {
				t.Errorf("match_choices: %s", scan.Body)
			}
			wrong := ""
			for _, ch := range choices {
				if ch != match {
					wrong, _ = ch.(string)
				}
			}
			return cnm.req("POST", "/api/v1/qr/"+id+"/confirm", a, map[string]string{"match_code": wrong})
		}, 409, "match_mismatch"},
		{"match code required", func(t *testing.T) *response {
			created := cnm.req("POST", "/api/v1/qr", "", nil).must(t, 201)
			a, _ := cnm.login(nm, "")
			cnm.req("POST", "/api/v1/qr/"+created.str("scene")+"/scan", a, nil).must(t, 200)
			r := cnm.req("POST", "/api/v1/qr/"+created.str("scene")+"/confirm", a, nil)
			// Nothing changed: the right pick still confirms.
			cnm.req("POST", "/api/v1/qr/"+created.str("scene")+"/confirm", a, map[string]string{"match_code": created.str("match_code")}).must(t, 200)
			return r
		}, 400, "invalid_request"},
		// Without a pick, who may confirm and whether the scene is open
		// still come first, as for any confirm.
		{"match code missing, not the scanner", func(t *testing.T) *response {
			created := cnm.req("POST", "/api/v1/qr", "", nil).must(t, 201)
			a, _ := cnm.login(nm, "")
			b, _ := cnm.login(nm, "")
			cnm.req("POST", "/api/v1/qr/"+created.str("scene")+"/scan", a, nil).must(t, 200)
			return cnm.req("POST", "/api/v1/qr/"+created.str("scene")+"/confirm", b, nil)
		}, 403, "not_scanner"},
		{"match code missing, not scanned", func(t *testing.T) *response {
			created := cnm.req("POST", "/api/v1/qr", "", nil).must(t, 201)
			a, _ := cnm.login(nm, "")
			return cnm.req("POST", "/api/v1/qr/"+created.str("scene")+"/confirm", a, nil)
		}, 409, "not_scanned"},
		{"invalid code", func(t *testing.T) *response {
			return c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": "no-such-code"})
		}, 401, "invalid_code"},
		{"used code", func(t *testing.T) *response {
			code := inst.MintCode(t, newOpenID(), "")
			c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code}).must(t, 200)
			return c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code})
		}, 401, "invalid_code"},
		{"invalid code on scan", func(t *testing.T) *response {
			sc := c.create()
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", "", map[string]string{"code": "no-such-code"})
		}, 401, "invalid_code"},
		{"wechat frequency limit", func(t *testing.T) *response {
			code := inst.MintCode(t, newOpenID(), "")
			inst.Fake.Inject(wxfake.APICode2Session, wxfake.Fault{Errcode: 45011, Times: 1})
			r := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code})
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("no Retry-After")
			}
			return r
		}, 429, "rate_limited"},
		{"wechat risky user", func(t *testing.T) *response {
			code := inst.MintCode(t, newOpenID(), "")
			inst.Fake.Inject(wxfake.APICode2Session, wxfake.Fault{Errcode: 40226, Times: 1})
			return c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code})
		}, 403, "wechat_denied"},
		{"wechat busy", func(t *testing.T) *response {
			code := inst.MintCode(t, newOpenID(), "")
			inst.Fake.Inject(wxfake.APICode2Session, wxfake.Fault{Errcode: -1})
			defer inst.Fake.ClearFaults()
			r := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code})
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("no Retry-After")
			}
			if strings.Contains(r.text(), "system") || strings.Contains(r.text(), "rid") {
				t.Errorf("WeChat text leaked: %s", r.Body)
			}
			return r
		}, 502, "wechat_unavailable"},
		{"wechat unavailable for the QR", func(t *testing.T) *response {
			sc := c.create()
			inst.Fake.Inject(wxfake.APIQRCode, wxfake.Fault{Errcode: -1})
			defer inst.Fake.ClearFaults()
			return c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil)
		}, 502, "wechat_unavailable"},
		{"bad mp token", func(t *testing.T) *response {
			return c.req("GET", "/api/v1/mp/me", "not-a-token", nil)
		}, 401, "invalid_token"},
		{"no phone auth", func(t *testing.T) *response {
			sc := c.create()
			return c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", "", nil)
		}, 401, "invalid_token"},
		{"bad access token", func(t *testing.T) *response {
			return c.req("GET", "/api/v1/me", "eyJhbGciOiJub25lIn0.e30.", nil)
		}, 401, "invalid_token"},
		{"no access token", func(t *testing.T) *response {
			return c.req("GET", "/api/v1/me", "", nil)
		}, 401, "invalid_token"},
		{"unknown refresh token", func(t *testing.T) *response {
			return c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": "nope"})
		}, 401, "invalid_token"},
		{"cross-site cookie logout", func(t *testing.T) *response {
			sc, _ := c.confirmed(inst)
			access := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200).str("access_token")
			r := c.req("POST", "/api/v1/session/logout", "", nil, "Cookie", "scanlogin_session="+access, "Origin", "https://evil.example")
			c.req("GET", "/api/v1/me", access, nil).must(t, 200) // still logged in
			c.req("GET", "/api/v1/me", "", nil, "Cookie", "scanlogin_session="+access, "Sec-Fetch-Site", "cross-site").must(t, 403)
			c.req("GET", "/api/v1/me", "", nil, "Cookie", "scanlogin_session="+access, "Sec-Fetch-Site", "same-origin").must(t, 200)
			c.req("POST", "/api/v1/session/logout", "", nil, "Cookie", "scanlogin_session="+access, "Origin", inst.URL).must(t, 204)
			return r
		}, 403, "forbidden_origin"},
		{"refresh from another site", func(t *testing.T) *response {
			sc, _ := c.confirmed(inst)
			refresh := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200).str("refresh_token")
			r := c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}, "Origin", "https://evil.example")
			if r.Header.Get("Set-Cookie") != "" {
				t.Errorf("a cross-site refresh set a cookie: %v", r.Header)
			}
			// The token was not spent: our own page still refreshes with it.
			c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh}, "Origin", inst.URL).must(t, 200)
			return r
		}, 403, "forbidden_origin"},
		{"JSON body sent as a form's text/plain", func(t *testing.T) *response {
			sc, _ := c.confirmed(inst)
			refresh := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200).str("refresh_token")
			return c.req("POST", "/api/v1/session/refresh", "", `{"refresh_token":"`+refresh+`"}`, "Content-Type", "text/plain")
		}, 415, "unsupported_media_type"},
		{"JSON body without a content type", func(t *testing.T) *response {
			return c.req("POST", "/api/v1/mp/login", "", `{"code":"x"}`, "Content-Type", "")
		}, 415, "unsupported_media_type"},
		{"revoke someone else's session", func(t *testing.T) *response {
			sc, _ := c.confirmed(inst)
			red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
			other, _ := c.login(inst, "")
			sessions := c.req("GET", "/api/v1/mp/sessions", other, nil).must(t, 200)
			if list, _ := sessions.JSON["sessions"].([]any); len(list) != 0 {
				t.Errorf("another user's sessions visible: %s", sessions.Body)
			}
			_ = red
			return c.req("DELETE", "/api/v1/mp/sessions/"+unknown, other, nil)
		}, 404, "session_not_found"},
		{"avatar not an image", func(t *testing.T) *response {
			tok, _ := c.login(inst, "")
			return upload(t, c, tok, []byte("<svg onload=alert(1)></svg>"))
		}, 415, "unsupported_media_type"},
		{"avatar over 2 MiB", func(t *testing.T) *response {
			tok, _ := c.login(inst, "")
			big := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 2<<20)...)
			return upload(t, c, tok, big)
		}, 413, "payload_too_large"},
		{"bad avatar url", func(t *testing.T) *response {
			tok, _ := c.login(inst, "")
			return c.req("PATCH", "/api/v1/mp/me", tok, map[string]string{"avatar_url": "javascript:alert(1)"})
		}, 400, "invalid_request"},
		{"phone without code", func(t *testing.T) *response {
			tok, _ := c.login(inst, "")
			return c.req("POST", "/api/v1/mp/me/phone", tok, map[string]string{})
		}, 400, "invalid_request"},
		{"invalid phone code", func(t *testing.T) *response {
			tok, _ := c.login(inst, "")
			return c.req("POST", "/api/v1/mp/me/phone", tok, map[string]string{"code": "nope"})
		}, 401, "invalid_code"},
		{"unknown route", func(t *testing.T) *response {
			return c.req("GET", "/api/v1/nope", "", nil)
		}, 404, "not_found"},
		{"method not allowed", func(t *testing.T) *response {
			return c.req("PUT", "/api/v1/qr", "", nil)
		}, 405, "method_not_allowed"},
		{"unknown avatar", func(t *testing.T) *response {
			return c.req("GET", "/api/v1/avatars/"+unknown, "", nil)
		}, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do(t)
			if r.Status != tt.status || r.errCode() != tt.code {
				t.Fatalf("got %d %q, want %d %q; body %s", r.Status, r.errCode(), tt.status, tt.code, r.Body)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store (docs/ARCHITECTURE.md#waiting)", cc)
			}
			e, _ := r.JSON["error"].(map[string]any)
			if msg, _ := e["message"].(string); msg == "" || len(r.JSON) != 1 {
				t.Errorf("error body not in the error shape: %s", r.Body)
			}
		})
	}
}

// text is the body as a string.
func (r *response) text() string { return string(r.Body) }

// upload posts data as the multipart avatar file.
func upload(t *testing.T, c *client, token string, data []byte) *response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "avatar.png")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return c.req("POST", "/api/v1/mp/me/avatar", token, buf.Bytes(), "Content-Type", mw.FormDataContentType())
}
