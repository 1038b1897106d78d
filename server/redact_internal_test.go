package server

import (
	"regexp"
	"strings"
	"testing"
)

// The redaction as first written with regular expressions only: the fast
// functions of logging.go must decide exactly as these do.
var (
	refSecretKey   = regexp.MustCompile(`(^|_)(token|tokens|code|codes|js_code|secret|secrets|session_key|sessionkey|password|passwd|authorization|cookie|set_cookie|signature|encrypted_data|iv|poll_token|refresh_token|access_token|private_key|key_pem)$`)
	refOpaqueValue = regexp.MustCompile(`^[A-Za-z0-9_-]{0,64}\.?[A-Za-z0-9_-]{40,}$`)
)

func refIsSecretKey(key string) bool {
	k := strings.ToLower(key)
	if k == "error_code" || k == "status_code" {
		return false
	}
	return refSecretKey.MatchString(k)
}

func refRedactString(s string) string {
	if len(s) >= 40 && refOpaqueValue.MatchString(s) {
		return redacted
	}
	if !strings.ContainsAny(s, "=.") && !strings.Contains(strings.ToLower(s), "bearer") {
		return s
	}
	s = jwtValue.ReplaceAllString(s, redacted)
	s = bearerValue.ReplaceAllString(s, "Bearer "+redacted)
	return queryValue.ReplaceAllString(s, "${1}"+redacted)
}

var redactSeeds = []string{
	"", "token", "Token", "poll_token", "xpoll_token", "x_token", "tokenx", "error_code", "status_code", "js_code",
	"IV", "giv", "my_iv", "key_pem", "user_agent", "scene", "refresh_TOKEN", "_code", "code_",
	"Yj3kq9secret-13_Zx0aB1cD2eF3gH4iJ5kL6mN7oP8qR9s",
	"0123456789abcdef0123456789abcdef.secret-14_aB1cD2eF3gH4iJ5kL6mN7oP8qR9sTt",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0.aB1cD2eF3gH4iJ5kL6mN7oP8qR9sTtuvwxyz0123",
	"a.b.aB1cD2eF3gH4iJ5kL6mN7oP8qR9sTtuvwxyz0123",
	".aB1cD2eF3gH4iJ5kL6mN7oP8qR9sTtuvwxyz0123",
	"aB1cD2eF3gH4iJ5kL6mN7oP8qR9sTtuvwxyz0123.",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0",
	"header was Bearer B-secret-10", "BEARER  abc=", "bearer", "bearerx", "beaRer\tq",
	"GET /sns/jscode2session?appid=x&secret=S-secret-8&js_code=C-secret-9: refused",
	"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "eyJab.", "xeyJabcd..", "a=b", "Code=1&TOKEN=2",
	"ſecret=1", "K=1", "\u212aey", "bea\u212fer",
}

func TestRedactMatchesRegexps(t *testing.T) {
	for _, s := range redactSeeds {
		if got, want := isSecretKey(s), refIsSecretKey(s); got != want {
			t.Errorf("isSecretKey(%q) = %v, want %v", s, got, want)
		}
		if got, want := redactString(s), refRedactString(s); got != want {
			t.Errorf("redactString(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzRedactMatchesRegexps(f *testing.F) {
	for _, s := range redactSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isSecretKey(s), refIsSecretKey(s); got != want {
			t.Errorf("isSecretKey(%q) = %v, want %v", s, got, want)
		}
		if got, want := redactString(s), refRedactString(s); got != want {
			t.Errorf("redactString(%q) = %q, want %q", s, got, want)
		}
	})
}

// BenchmarkRedactAccessLine: the keys and values of one access-log line
// and the user agent of an audit line, through the redaction, as written
// (fast) and as first written (regexp).
func BenchmarkRedactAccessLine(b *testing.B) {
	vals := []string{"GET", "HTTP/1.1", "/api/v1/qr/:scene/state", "/api/v1/qr/0123456789abcdef0123456789abcdef/state", "203.0.113.9",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"}
	keys := []string{"request_id", "method", "proto", "route", "path", "status", "duration", "ip", "user_agent"}
	for _, impl := range []struct {
		name   string
		key    func(string) bool
		redact func(string) string
	}{{"fast", isSecretKey, redactString}, {"regexp", refIsSecretKey, refRedactString}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, k := range keys {
					_ = impl.key(k)
				}
				for _, v := range vals {
					_ = impl.redact(v)
				}
			}
		})
	}
}
