package wxapi_test

import (
	"bytes"
	"errors"
	"image/png"
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

func TestUnlimitedQRCode(t *testing.T) {
	e := setup(t, func(o *wxfake.Options, _ *wxapi.Config) {
		o.QRContent = func(scene string) string { return "https://login.example/dev/phone?scene=" + scene }
	})
	ctx := t.Context()
	data, ct, err := e.cl.UnlimitedQRCode(ctx, "t=Q9fK2mZx7LpA", "pages/login/confirm", "trial", false, 430)
	if err != nil {
		t.Fatal(err)
	}
	req := e.rec.last(t, "/wxa/getwxacodeunlimit")
	// WeChat's label is image/jpeg; the client reports what the bytes are.
	if ct != "image/png" || req.RespContentType != "image/jpeg" {
		t.Fatalf("content type %q (served as %q)", ct, req.RespContentType)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 430 || b.Dy() != 430 {
		t.Fatalf("image is %v, want 430x430", b)
	}
	tok, _ := e.cl.AccessToken(ctx)
	if req.Method != "POST" || req.Query.Get("access_token") != tok || !strings.HasPrefix(req.ContentType, "application/json") {
		t.Fatalf("request = %+v", req)
	}
	body := decodeJSON(t, req.Body)
	want := map[string]any{"scene": "t=Q9fK2mZx7LpA", "page": "pages/login/confirm", "check_path": false, "env_version": "trial", "width": float64(430)}
	if len(body) != len(want) {
		t.Fatalf("body = %v, want %v", body, want)
	}
	for k, v := range want {
		if body[k] != v {
			t.Fatalf("body[%s] = %v, want %v (body %v)", k, body[k], v, body)
		}
	}
	// Defaults: home page, release, check_path against the published pages.
	if _, _, err := e.cl.UnlimitedQRCode(ctx, "abc", "", "", true, 0); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if _, _, err := e.cl.UnlimitedQRCode(ctx, "abc", "pages/scan/scan", "release", true, 280); err != nil {
		t.Fatalf("published page: %v", err)
	}
}

func TestUnlimitedQRCodeValidation(t *testing.T) {
	tests := []struct {
		name, scene, page, env string
		checkPath              bool
		code                   int
	}{
		{name: "empty scene", scene: "", code: 40169},
		{name: "33 chars", scene: strings.Repeat("a", 33), code: 40169},
		{name: "32 chars", scene: strings.Repeat("a", 32)},
		{name: "all allowed punctuation", scene: "!#$&'()*+,/:;=?@-._~"},
		{name: "percent", scene: "a%20b", code: 40129},
		{name: "space", scene: "a b", code: 40129},
		{name: "chinese", scene: "登录", code: 40129},
		{name: "leading slash", scene: "s", page: "/pages/scan/scan", code: 41030},
		{name: "query in page", scene: "s", page: "pages/scan/scan?x=1", code: 41030},
		{name: "scancode_time", scene: "s", page: "pages/scancode_time/x", code: 85096},
		{name: "unpublished page checked", scene: "s", page: "pages/new/new", checkPath: true, code: 41030},
		{name: "unpublished page unchecked", scene: "s", page: "pages/new/new"},
		{name: "bad env_version", scene: "s", env: "prod", code: 40097},
		{name: "develop", scene: "s", env: "develop"},
	}
	e := setup(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, ct, err := e.cl.UnlimitedQRCode(t.Context(), tt.scene, tt.page, tt.env, tt.checkPath, 0)
			if tt.code == 0 {
				if err != nil || ct != "image/png" {
					t.Fatalf("got %q, %v", ct, err)
				}
				return
			}
			var we *wxapi.Error
			if !errors.As(err, &we) || we.Code != tt.code || we.API != "getwxacodeunlimit" {
				t.Fatalf("error = %v, want errcode %d", err, tt.code)
			}
			if data != nil || ct != "" {
				t.Fatalf("an error came with %d bytes of %q", len(data), ct)
			}
		})
	}
}

func TestUnlimitedQRCodeMinuteQuota(t *testing.T) {
	e := setup(t, func(o *wxfake.Options, _ *wxapi.Config) { o.QRMinuteQuota = 2 })
	ctx := t.Context()
	for range 2 {
		if _, _, err := e.cl.UnlimitedQRCode(ctx, "s", "", "", false, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.cl.UnlimitedQRCode(ctx, "s", "", "", false, 0); !errors.Is(err, wxapi.ErrDailyQuota) {
		t.Fatalf("over the minute quota: %v", err)
	}
}

// Whatever the header says, JSON is an error and only PNG/JPEG bytes are an
// image.
func TestUnlimitedQRCodeSniffing(t *testing.T) {
	jpeg := "\xff\xd8\xff\xe0\x00\x10JFIF\x00rest"
	tests := []struct {
		name     string
		fault    wxfake.Fault
		ct       string
		sentinel error
	}{
		{name: "json error labelled image", fault: wxfake.Fault{Body: `{"errcode":45009,"errmsg":"reach max api daily quota limit rid: 1"}`, ContentType: "image/jpeg"}, sentinel: wxapi.ErrDailyQuota},
		{name: "json ok labelled image", fault: wxfake.Fault{Body: `{"errcode":0,"errmsg":"ok"}`, ContentType: "image/jpeg"}, sentinel: wxapi.ErrUnavailable},
		{name: "json error with leading space", fault: wxfake.Fault{Body: ` {"errcode":40169,"errmsg":"x"}`, ContentType: "text/plain"}},
		{name: "json content type without brace", fault: wxfake.Fault{Body: `[1]`, ContentType: "application/json; encoding=utf-8"}, sentinel: wxapi.ErrUnavailable},
		{name: "jpeg labelled octet-stream", fault: wxfake.Fault{Body: jpeg, ContentType: "application/octet-stream"}, ct: "image/jpeg"},
		{name: "gif", fault: wxfake.Fault{Body: "GIF89a....", ContentType: "image/jpeg"}, sentinel: wxapi.ErrUnavailable},
		{name: "empty", fault: wxfake.Fault{Body: "", ContentType: "image/jpeg"}, ct: "image/png"}, // empty Body = no fault body: the real PNG
		{name: "busy then png", fault: wxfake.Fault{Errcode: -1, Times: 1}, ct: "image/png"},
		{name: "always busy", fault: wxfake.Fault{Errcode: -1}, sentinel: wxapi.ErrSystemBusy},
		{name: "token expired twice", fault: wxfake.Fault{Errcode: 42001}, sentinel: wxapi.ErrTokenInvalid},
	}
	e := setup(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fake.Inject(wxfake.APIQRCode, tt.fault)
			defer e.fake.ClearFaults()
			data, ct, err := e.cl.UnlimitedQRCode(t.Context(), "s", "", "", false, 0)
			if tt.ct != "" {
				if err != nil || ct != tt.ct || wxapi.SniffImage(data) != tt.ct {
					t.Fatalf("got %q, %v", ct, err)
				}
				return
			}
			if err == nil || data != nil || ct != "" {
				t.Fatalf("got %d bytes of %q, %v", len(data), ct, err)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Fatalf("error %v does not match %v", err, tt.sentinel)
			}
		})
	}
}
