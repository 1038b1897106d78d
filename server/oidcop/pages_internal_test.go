package oidcop

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestIsZh: the provider's pages pick their language by the rule of the
// other pages (README.md, "Languages"; web/static/i18n.js): the first of
// the browser's languages that is zh-* or en-* decides, so every zh-*
// browser reads Chinese here as on the login page.
func TestIsZh(t *testing.T) {
	for _, tc := range []struct {
		query, accept string
		want          bool
	}{
		{"", "zh-CN,zh;q=0.9,en;q=0.5", true},
		{"", "zh-TW,en;q=0.5", true},
		{"", "zh-HK,en-US;q=0.9", true},
		{"", "zh-Hant-TW", true},
		{"", "fr,zh;q=0.8,en;q=0.5", true},
		{"", "en-US,zh;q=0.9", false},
		{"", "ja", false},
		{"", "", false},
		{"?lang=en", "zh-CN", false},
		{"?lang=zh", "en-US", true},
		// An authorization's or a logout's ui_locales is the relying
		// party's choice (README.md, "Languages"), before the browser's.
		{"?ui_locales=zh-CN%20en", "en-US", true},
		{"?ui_locales=en", "zh-CN", false},
		{"?ui_locales=fr", "zh-CN", true},
		{"?lang=en&ui_locales=zh-CN", "zh-CN", false},
	} {
		r := httptest.NewRequest("GET", "/oidc/authorize"+tc.query, nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := isZh(r); got != tc.want {
			t.Errorf("%s Accept-Language %q: Chinese %v, want %v", tc.query, tc.accept, got, tc.want)
		}
	}
	// A logout request may come as a form (end_session takes POST).
	r := httptest.NewRequest("POST", "/oidc/end_session", strings.NewReader("ui_locales=zh-CN"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept-Language", "en-US")
	_ = r.ParseForm()
	if !isZh(r) {
		t.Error("a POSTed ui_locales=zh-CN: English")
	}
}
