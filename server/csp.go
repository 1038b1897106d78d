package server

import "strings"

// pageCSP is the Content-Security-Policy of every HTML page we serve (the
// login page, the phone simulator, any page under /static/). The pages show
// other people's nicknames and avatars, so they run our scripts only, from
// files (no inline script, no eval), styles from files (the widget's
// constructed stylesheet is not inline markup), and images from us, data:
// URLs and the allowed avatar hosts. Nothing may frame them (as
// X-Frame-Options: DENY says for every answer; the widget embeds by script,
// not by frame), plugins and <base> are off, forms post only to us.
// publicOrigin is listed beside 'self' because the API answers absolute
// URLs on it (QR images, avatars) and a demo opened by IP differs from it.
func pageCSP(publicOrigin string, avatarHosts []string) string {
	img := []string{"'self'", "data:", publicOrigin}
	for _, h := range avatarHosts {
		img = append(img, "https://"+h)
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src " + strings.Join(img, " "),
		"connect-src 'self' " + publicOrigin,
		"font-src 'self'",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}
