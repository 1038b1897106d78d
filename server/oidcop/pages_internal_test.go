package oidcop

import (
	"net/http/httptest"
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
	} {
		r := httptest.NewRequest("GET", "/oidc/authorize"+tc.query, nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := isZh(r); got != tc.want {
			t.Errorf("%s Accept-Language %q: Chinese %v, want %v", tc.query, tc.accept, got, tc.want)
		}
	}
}
