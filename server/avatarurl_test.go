package server_test

import (
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestAvatarURLValidation: avatar_url is parsed and compared, not matched
// by prefix: our avatar route exactly (absolute on the public URL, or
// relative), or an https URL on an allowed avatar host (README.md's
// SCANLOGIN_AVATAR_HOSTS); nothing else, however it is spelled.
func TestAvatarURLValidation(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "")
	own := "/api/v1/avatars/0123456789abcdef0123456789abcdef"
	for _, bad := range []string{
		own + "/../../me",
		"/api/v1/avatars/../../api/v1/me",
		inst.URL + "/api/v1/avatars/../../api/v1/me",
		inst.URL + "/api/v1/avatars/%2e%2e/%2e%2e/api/v1/me",
		inst.URL + "/api/v1/avatars/..%2f..%2fapi/v1/me",
		inst.URL + "/api/v1/avatars/zz",
		inst.URL + own + "?x=1",
		inst.URL + own + "#x",
		inst.URL + "/api/v1/avatarsX/0123456789abcdef0123456789abcdef",
		strings.Replace(inst.URL, "http://", "http://user:pw@", 1) + own,
		"https://localhost/a.png",
		"https://localhost" + own,
		"https://127.0.0.1/a.png",
		"https://[::1]/a.png",
		"https://2130706433/a.png",
		"https://0x7f000001/a.png",
		"https://10.0.0.1/a.png",
		"https://169.254.169.254/latest/meta-data",
		"https://evil.example/a.png",
		"https://thirdwx.qlogo.cn.evil.example/a.png",
		"https://thirdwx.qlogo.cn:8443/a.png",
		"https://user:pw@thirdwx.qlogo.cn/a.png",
		"https://thirdwx.qlogo.cn/a/../b",
		"https://thirdwx.qlogo.cn/a/%2E%2E/b",
		"https://thirdwx.qlogo.cn\\@evil.example/a.png",
		"http://thirdwx.qlogo.cn/a.png",
		"//thirdwx.qlogo.cn/a.png",
		"javascript:alert(1)",
		"data:image/png;base64,iVBORw0KGgo=",
		"https://thirdwx.qlogo.cn/a b",
		"https:thirdwx.qlogo.cn/a.png",
	} {
		if r := c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"avatar_url": bad}); r.Status != 400 || r.errCode() != "invalid_request" {
			t.Errorf("avatar_url %q: %d %s", bad, r.Status, r.Body)
		}
	}
	// Our route names an upload of this user (saving another URL deletes
	// it, so the uploads come first).
	mine := strings.TrimPrefix(upload(t, c, tok, encodePNG(t, testImage(8, 8))).must(t, 200).str("avatar_url"), inst.URL)
	for _, tt := range []struct{ in, want string }{
		{inst.URL + mine, inst.URL + mine},
		{mine, inst.URL + mine},
		{"https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTK/132", "https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTK/132"},
		{"https://wx.qlogo.cn/mmhead/abc/0", "https://wx.qlogo.cn/mmhead/abc/0"},
		{"https://THIRDWX.qlogo.cn/x/132", "https://thirdwx.qlogo.cn/x/132"},
		{"", ""},
	} {
		r := c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"avatar_url": tt.in}).must(t, 200)
		if got := r.str("avatar_url"); got != tt.want {
			t.Errorf("avatar_url %q stored as %q, want %q", tt.in, got, tt.want)
		}
	}
}
