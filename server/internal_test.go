package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/wxapi"
)

func TestPollWait(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 25 * time.Second, false},
		{"0", 0, false},
		{"5", 5 * time.Second, false},
		{"30", 30 * time.Second, false},
		// More than 30 is refused, not clamped (README.md, /openapi.json).
		{"31", 0, true},
		{"100000", 0, true},
		{"9223372037", 0, true}, // would overflow a Duration
		{"99999999999999999999", 0, true},
		{"-1", 0, true},
		{"1.5", 0, true},
		{"soon", 0, true},
	} {
		got, err := pollWait(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
			t.Errorf("pollWait(%q) = %s, %v", tt.in, got, err)
		}
	}
}

func TestValidSceneID(t *testing.T) {
	for id, want := range map[string]bool{
		"0123456789abcdef0123456789abcdef":   true,
		"0123456789ABCDEF0123456789abcdef":   false,
		"0123456789abcdef0123456789abcde":    false,
		"0123456789abcdef0123456789abcdef0":  false,
		"0123456789abcdef0123456789abcdeg":   false,
		"../../../../../../../../etc/passwd": false,
		"":                                   false,
	} {
		if got := validSceneID(id); got != want {
			t.Errorf("validSceneID(%q) = %v", id, got)
		}
	}
}

// TestObserveDB: database calls that failed are counted by kind; answers
// (not found) and callers that gave up are not failures.
func TestObserveDB(t *testing.T) {
	m := NewMetrics()
	for _, err := range []error{
		nil,
		fmt.Errorf("sqlstore: user: %w", scanlogin.ErrUserNotFound),
		fmt.Errorf("sqlstore: user: %w", context.Canceled),
		fmt.Errorf("sqlstore: user: %w: %w", scanlogin.ErrUnavailable, errors.New("dial unix: connection refused")),
		fmt.Errorf("sqlstore: user: %w: %w", scanlogin.ErrOverloaded, context.DeadlineExceeded),
		fmt.Errorf("sqlstore: user: %w: %w", scanlogin.ErrOverloaded, context.DeadlineExceeded),
		errors.New("sqlstore: user: syntax error"),
	} {
		m.ObserveDB("user", time.Millisecond, err)
	}
	mfs, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "scanlogin_db_errors_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "kind" {
					got[l.GetValue()] = mt.GetCounter().GetValue()
				}
			}
		}
	}
	if want := map[string]float64{"unavailable": 1, "overloaded": 2, "error": 1}; !maps.Equal(got, want) {
		t.Fatalf("scanlogin_db_errors_total by kind = %v, want %v", got, want)
	}
}

// TestErrorMapping: the table maps wrapped errors; 5xx never carry text.
func TestErrorMapping(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
		code   string
		retry  bool
	}{
		{fmt.Errorf("scanlogin: scan: %w", scanlogin.ErrAlreadyScanned), 409, "already_scanned", false},
		{fmt.Errorf("x: %w: %w", scanlogin.ErrUnavailable, errors.New("dial tcp: refused")), 503, "unavailable", true},
		{&wxapi.Error{API: "jscode2session", Code: 40029, Msg: "invalid code rid: x"}, 401, "invalid_code", false},
		{&wxapi.Error{API: "jscode2session", Code: 40163}, 401, "invalid_code", false},
		{&wxapi.Error{API: "jscode2session", Code: 45011}, 429, "rate_limited", true},
		{&wxapi.Error{API: "jscode2session", Code: 40226}, 403, "wechat_denied", false},
		{&wxapi.Error{API: "jscode2session", Code: -1}, 502, "wechat_unavailable", true},
		{&wxapi.Error{API: "getwxacodeunlimit", Code: 45009}, 502, "wechat_unavailable", true},
		{&wxapi.Error{API: "getwxacodeunlimit", Code: 99999}, 502, "wechat_unavailable", true},
		{fmt.Errorf("post: %w", wxapi.ErrUnavailable), 502, "wechat_unavailable", true},
		{fmt.Errorf("x: %w: %w", scanlogin.ErrOverloaded, redis.ErrPoolTimeout), 503, "overloaded", true},
		// The database, cut by its bound while it answered other calls.
		{fmt.Errorf("sqlstore: user: %w: %w", scanlogin.ErrOverloaded, context.DeadlineExceeded), 503, "overloaded", true},
		{fmt.Errorf("x: %w: %v", scanlogin.ErrRedeemFailed, scanlogin.ErrUnavailable), 500, "internal", false},
		{context.DeadlineExceeded, 503, "unavailable", true},
		{&http.MaxBytesError{Limit: 1}, 413, "payload_too_large", false},
		{errors.New("secret internal detail"), 500, "internal", false},
	} {
		e := errorFor(tt.err)
		if e.Status != tt.status || e.Code != tt.code || (e.RetryAfter > 0) != tt.retry {
			t.Errorf("%v -> %d %s retry %s; want %d %s", tt.err, e.Status, e.Code, e.RetryAfter, tt.status, tt.code)
		}
		if e.Status >= 500 && strings.Contains(e.Message, "internal detail") {
			t.Errorf("internal text in a 5xx message: %q", e.Message)
		}
	}
}

func TestRedactHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewRedactHandler(slog.NewJSONHandler(&buf, nil)))
	jwtish := "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	log.With("access_token", "AT-secret-1").Info("hello "+jwtish,
		"token", "T-secret-2", "poll_token", "PT-secret-3", "code", "C-secret-4", "session_key", "SK-secret-5",
		"secret", "S-secret-6", "Authorization", "Bearer B-secret-7",
		"err", errors.New("GET /sns/jscode2session?appid=x&secret=S-secret-8&js_code=C-secret-9: refused"),
		"note", "header was Bearer B-secret-10",
		slog.Group("req", "refresh_token", "R-secret-11", "cookie", "scanlogin_session=X-secret-12"),
		"scene", "0123456789abcdef0123456789abcdef", "error_code", "scene_expired", "wx_errcode", 40029,
		"x", "Yj3kq9secret-13_Zx0aB1cD2eF3gH4iJ5kL6mN7oP8qR9s",
		"y", "0123456789abcdef0123456789abcdef.secret-14_aB1cD2eF3gH4iJ5kL6mN7oP8qR9sTt",
		"user_agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0",
	)
	out := buf.String()
	for i := 1; i <= 14; i++ {
		if strings.Contains(out, fmt.Sprintf("secret-%d", i)) {
			t.Errorf("secret-%d leaked: %s", i, out)
		}
	}
	if strings.Contains(out, jwtish) {
		t.Errorf("JWT leaked: %s", out)
	}
	for _, keep := range []string{"0123456789abcdef0123456789abcdef", "scene_expired", "40029", "appid=x", "Chrome/140.0"} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q was redacted: %s", keep, out)
		}
	}
}

// TestRedactHandlerOneAttr: a line whose only secret is one attribute, or
// its message, is redacted too (clean lines pass through untouched).
func TestRedactHandlerOneAttr(t *testing.T) {
	lines := []func(*slog.Logger){
		func(l *slog.Logger) { l.Info("m", "token", "T-secret-1") },
		func(l *slog.Logger) { l.Info("m", "Authorization", "Bearer B-secret-2") },
		func(l *slog.Logger) { l.Info("m", "note", "header was Bearer B-secret-3") },
		func(l *slog.Logger) { l.Info("m", "x", "Yj3kq9secret-4_Zx0aB1cD2eF3gH4iJ5kL6mN7oP8qR9s") },
		func(l *slog.Logger) { l.Info("m", "err", errors.New("js_code=C-secret-5")) },
		func(l *slog.Logger) { l.Info("m", slog.Group("req", "cookie", "c=X-secret-6")) },
		func(l *slog.Logger) { l.Info("m", "url", "/cb?code=C-secret-7&state=s") },
		func(l *slog.Logger) { l.Info("hello eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2VjcmV0LTg") },
		func(l *slog.Logger) { l.Info("m", "n", 1, "at", time.Now(), "token", 9) },
		func(l *slog.Logger) { l.Info("m", "v", slog.AnyValue(struct{ S string }{"token=T-secret-10"})) },
		func(l *slog.Logger) {
			l.Info("m", "v", struct{ T string }{"Yj3kq9secret-11_Zx0aB1cD2eF3gH4iJ5kL6mN7oP8qR9s"})
		},
		func(l *slog.Logger) { l.Info("m", "v", map[string]string{"session_key": "S-secret-12"}) },
		func(l *slog.Logger) { l.Info("m", "h", http.Header{"Cookie": {"sid=X-secret-13"}}) },
		func(l *slog.Logger) {
			l.Info("m", "v", map[string]any{"list": []any{map[string]string{"refresh_token": "R-secret-14"}}})
		},
	}
	for i, line := range lines {
		var buf bytes.Buffer
		line(slog.New(NewRedactHandler(slog.NewJSONHandler(&buf, nil))))
		out := buf.String()
		if strings.Contains(out, "secret-") || strings.Contains(out, "c2VjcmV0LTg") || strings.Contains(out, `"token":9`) {
			t.Errorf("line %d leaked: %s", i, out)
		}
	}
	var buf bytes.Buffer
	slog.New(NewRedactHandler(slog.NewJSONHandler(&buf, nil))).Info("http request", "route", "/api/v1/qr/:scene/state", "status", 200, "took", time.Millisecond)
	if want := `"msg":"http request","route":"/api/v1/qr/:scene/state","status":200,"took":1000000}`; !strings.Contains(buf.String(), want) {
		t.Errorf("a clean line changed: %s", buf.String())
	}
	// An object keeps what is not secret, as an object.
	buf.Reset()
	slog.New(NewRedactHandler(slog.NewJSONHandler(&buf, nil))).Info("m", "v", map[string]any{"session_key": "S", "user": "u1", "n": 12345678901234567})
	if want := `"v":{"n":12345678901234567,"session_key":"[REDACTED]","user":"u1"}`; !strings.Contains(buf.String(), want) {
		t.Errorf("a redacted object: %s, want %s", buf.String(), want)
	}
}

func TestSecureCookies(t *testing.T) {
	for u, want := range map[string]bool{
		"https://login.example.com": true,
		// Plain HTTP in dev mode, on any host: the browser would drop a
		// Secure cookie (the LAN demo README.md gives).
		"http://login.example.com": false,
		"http://192.168.1.5:8080":  false,
		"http://localhost:8080":    false,
		"http://127.0.0.1:8080":    false,
		"http://[::1]:8080":        false,
	} {
		if got := secureCookies(true, u); got != want {
			t.Errorf("secureCookies(dev, %s) = %v", u, got)
		}
		// With real WeChat credentials, Secure whatever the URL.
		if !secureCookies(false, u) {
			t.Errorf("secureCookies(production, %s) = false", u)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{"13800138000": "*******8000", "+8613800138000": "+*********8000", "123": "123"} {
		if got := maskPhone(in); got != want {
			t.Errorf("maskPhone(%s) = %s, want %s", in, got, want)
		}
	}
}
