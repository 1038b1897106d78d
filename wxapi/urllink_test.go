package wxapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

func TestGenerateURLLink(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	exp := e.clock.Now().Add(90*time.Second + 300*time.Millisecond)
	link, err := e.cl.GenerateURLLink(ctx, "pages/scan/scan", "scene=0123456789abcdef0123456789abcdef", "", exp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, wxfake.DefaultURLLinkBase) {
		t.Fatalf("link %q", link)
	}
	req := e.rec.last(t, "/wxa/generate_urllink")
	body := decodeJSON(t, req.Body)
	// The expiry is rounded up to the second: the link never dies before
	// what it links to.
	want := map[string]any{"path": "pages/scan/scan", "query": "scene=0123456789abcdef0123456789abcdef",
		"expire_type": float64(0), "expire_time": float64(exp.Unix() + 1)}
	for k, v := range want {
		if body[k] != v {
			t.Fatalf("body[%s] = %v, want %v (body %v)", k, body[k], v, body)
		}
	}
	if _, present := body["access_token"]; present {
		t.Fatal("access token in the body")
	}
	l, err := e.fake.ResolveURLLink(ctx, link)
	if err != nil || l.Path != "pages/scan/scan" || l.Query != "scene=0123456789abcdef0123456789abcdef" || l.EnvVersion != "release" {
		t.Fatalf("resolve: %+v, %v", l, err)
	}
	// Unique: the same arguments give another link.
	again, err := e.cl.GenerateURLLink(ctx, "pages/scan/scan", "scene=0123456789abcdef0123456789abcdef", "", exp)
	if err != nil || again == link {
		t.Fatalf("second link %q (%v), first %q", again, err, link)
	}
	// Expired links open nothing.
	e.clock.Advance(2 * time.Minute)
	if _, err := e.fake.ResolveURLLink(ctx, link); !errors.Is(err, wxfake.ErrNoURLLink) {
		t.Fatalf("expired link: %v", err)
	}
}

func TestGenerateURLLinkValidation(t *testing.T) {
	e := setup(t, nil)
	day := 24 * time.Hour
	tests := []struct {
		name, page, query, env string
		in                     time.Duration
		code                   int
	}{
		{name: "home page", page: "", query: "a=1", in: time.Minute},
		{name: "unpublished page", page: "pages/new/new", in: time.Minute, code: 40165},
		{name: "unpublished page on develop", page: "pages/new/new", env: "develop", in: time.Minute},
		{name: "bad env", page: "pages/scan/scan", env: "prod", in: time.Minute, code: 40097},
		{name: "query charset", page: "pages/scan/scan", query: "a=登录", in: time.Minute, code: 40212},
		{name: "query space", page: "pages/scan/scan", query: "a=b c", in: time.Minute, code: 40212},
		{name: "query percent ok", page: "pages/scan/scan", query: "a=%E7%99%BB", in: time.Minute},
		{name: "query too long", page: "pages/scan/scan", query: strings.Repeat("a", 1025), in: time.Minute, code: 40212},
		{name: "query 1024", page: "pages/scan/scan", query: strings.Repeat("a", 1024), in: time.Minute},
		{name: "expired already", page: "pages/scan/scan", in: -time.Minute, code: 40097},
		{name: "30 days", page: "pages/scan/scan", in: 30*day - time.Minute},
		{name: "31 days", page: "pages/scan/scan", in: 31 * day, code: 40097},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link, err := e.cl.GenerateURLLink(t.Context(), tt.page, tt.query, tt.env, e.clock.Now().Add(tt.in))
			if tt.code == 0 {
				if err != nil || link == "" {
					t.Fatalf("got %q, %v", link, err)
				}
				return
			}
			var we *wxapi.Error
			if !errors.As(err, &we) || we.Code != tt.code || we.API != "generate_urllink" || link != "" {
				t.Fatalf("got %q, %v; want errcode %d", link, err, tt.code)
			}
		})
	}
	// The client refuses what WeChat would, before calling.
	if _, err := e.cl.GenerateURLLink(t.Context(), "/pages/scan/scan", "", "", e.clock.Now().Add(time.Minute)); err == nil {
		t.Fatal("leading slash accepted")
	}
	e.fake.Inject(wxfake.APIURLLink, wxfake.Fault{Errcode: 45009})
	defer e.fake.ClearFaults()
	if _, err := e.cl.GenerateURLLink(t.Context(), "pages/scan/scan", "", "", e.clock.Now().Add(time.Minute)); !errors.Is(err, wxapi.ErrDailyQuota) {
		t.Fatalf("45009: %v", err)
	}
}
