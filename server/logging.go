package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// RedactHandler wraps a slog.Handler so that secrets can never be logged,
// whatever a caller passes by mistake: attributes whose key names a secret
// (token, code, secret, session_key, password, authorization, cookie,
// signature, encrypted_data, iv) lose their value, and string values that
// look like a bearer token or a JWT are replaced wherever they appear.
// It is a safety net: the code does not log such things in the first place.
type RedactHandler struct {
	next slog.Handler
}

// NewRedactHandler returns h behind the redaction filter.
func NewRedactHandler(h slog.Handler) *RedactHandler { return &RedactHandler{next: h} }

const redacted = "[REDACTED]"

// secretKeys name the attributes whose values are secrets: a key (lower
// case, without its group prefix) is secret when it is one of them or ends
// in "_" and one of them.
var secretKeys = []string{
	"token", "tokens", "code", "codes", "js_code", "secret", "secrets", "session_key", "sessionkey",
	"password", "passwd", "authorization", "cookie", "set_cookie", "signature", "encrypted_data", "iv",
	"poll_token", "refresh_token", "access_token", "private_key", "key_pem",
}

var (
	// Values: JWTs (three base64url parts, header starting eyJ) and
	// "Bearer x" strings inside free text such as error messages.
	jwtValue    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	bearerValue = regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/=-]+`)
	// Query parameters that carry secrets when a URL is logged.
	queryValue = regexp.MustCompile(`(?i)((?:access_token|js_code|code|secret|token|refresh_token|poll_token)=)[^&\s"]+`)
)

// The redaction runs on every attribute of every log line (several per
// request), so the common case is decided without a regular expression:
// keys by suffix, opaque secrets by one pass over the bytes, and each
// pattern above only when the text holds what it starts with.

// isSecretKey reports whether an attribute named key holds a secret. Keys
// such as error "code" of the API are safe under other names (error_code).
func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	if k == "error_code" || k == "status_code" {
		return false
	}
	for _, name := range secretKeys {
		if strings.HasSuffix(k, name) && (len(k) == len(name) || k[len(k)-len(name)-1] == '_') {
			return true
		}
	}
	return false
}

// isOpaqueSecret reports whether the whole value looks like one of our
// opaque secrets: 40+ base64url characters (poll, mp and refresh tokens
// carry 256 bits), optionally after "<id>." of at most 64. IDs (32 hex)
// and request ids are shorter.
func isOpaqueSecret(s string) bool {
	if len(s) < 40 {
		return false
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		case c == '.' && dot < 0:
			dot = i
		default:
			return false
		}
	}
	return dot <= 64 && len(s)-dot-1 >= 40
}

// containsBearer is a case-insensitive strings.Contains(s, "bearer").
func containsBearer(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i]|0x20 == 'b' && strings.EqualFold(s[i:i+6], "bearer") {
			return true
		}
	}
	return false
}

func redactString(s string) string {
	if isOpaqueSecret(s) {
		return redacted
	}
	if strings.Contains(s, "eyJ") {
		s = jwtValue.ReplaceAllString(s, redacted)
	}
	if containsBearer(s) {
		s = bearerValue.ReplaceAllString(s, "Bearer "+redacted)
	}
	if strings.IndexByte(s, '=') >= 0 {
		s = queryValue.ReplaceAllString(s, "${1}"+redacted)
	}
	return s
}

func redactAttr(a slog.Attr) slog.Attr {
	if isSecretKey(a.Key) {
		return slog.String(a.Key, redacted)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redactString(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = redactAttr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, redactString(err.Error()))
		}
		if st, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, redactString(st.String()))
		}
		// Anything else is written as JSON: judge that JSON member by
		// member, as attributes are judged.
		if doc, ok := asJSON(v.Any()); ok {
			if red, changed := redactJSON(doc); changed {
				return slog.Any(a.Key, red)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// asJSON is v as the JSON handler would write it, decoded into maps,
// slices, strings and exact numbers.
func asJSON(v any) (any, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return nil, false
	}
	return doc, true
}

// redactJSON redacts a decoded JSON value: members with a secret's name
// and strings holding one, at any depth. It reports whether it changed
// anything.
func redactJSON(doc any) (any, bool) {
	switch d := doc.(type) {
	case string:
		r := redactString(d)
		return r, r != d
	case map[string]any:
		changed := false
		for k, x := range d {
			if isSecretKey(k) {
				d[k], changed = redacted, true
			} else if r, ok := redactJSON(x); ok {
				d[k], changed = r, true
			}
		}
		return d, changed
	case []any:
		changed := false
		for i, x := range d {
			if r, ok := redactJSON(x); ok {
				d[i], changed = r, true
			}
		}
		return d, changed
	}
	return doc, false
}

// clean reports whether redactAttr would leave every attribute of r, and
// redactString its message, as they are. Values of any other kind than
// string and number (errors, Stringers, groups) count as not clean: they
// are redacted as text.
func clean(r slog.Record) bool {
	if redactString(r.Message) != r.Message {
		return false
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		ok = cleanAttr(a)
		return ok
	})
	return ok
}

func cleanAttr(a slog.Attr) bool {
	if isSecretKey(a.Key) {
		return false
	}
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		return redactString(s) == s
	case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
		return true
	}
	return false
}

// Enabled implements slog.Handler.
func (h *RedactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler. A record with nothing to redact, as
// nearly every one is, passes on as it is, not copied.
func (h *RedactHandler) Handle(ctx context.Context, r slog.Record) error {
	if clean(r) {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, redactString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return &RedactHandler{next: h.next.WithAttrs(red)}
}

// WithGroup implements slog.Handler.
func (h *RedactHandler) WithGroup(name string) slog.Handler {
	return &RedactHandler{next: h.next.WithGroup(name)}
}

// requestIDMiddleware gives every request a fresh id, sent back in
// X-Request-Id and written on every log line of the request. A client-sent
// id is not reused, as Echo's RequestID middleware would: it would let
// anyone write into our logs.
func requestIDMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var b [12]byte
		_, _ = rand.Read(b[:])
		c.Response().Header().Set(echo.HeaderXRequestID, hex.EncodeToString(b[:]))
		return next(c)
	}
}

// requestID is the id setRequestID gave this request.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// logRequest writes the access log line of a request: route pattern and
// path (our URLs never carry secrets; logPath keeps a client's out), status,
// duration, request id, client IP.
func (s *Server) logRequest(c echo.Context, took time.Duration, err error) {
	status := c.Response().Status
	if err != nil {
		status = errorFor(err).Status
	}
	level := slog.LevelInfo
	if c.Path() == "/healthz" || c.Path() == "/readyz" || c.Path() == "/metrics" {
		level = slog.LevelDebug
	}
	logAttrs(c.Request().Context(), s.log, level, "http request",
		slog.String("request_id", requestID(c)),
		slog.String("method", c.Request().Method),
		slog.String("proto", c.Request().Proto),
		slog.String("route", c.Path()),
		slog.String("path", logPath(c.Request().URL.Path)),
		slog.Int("status", status),
		slog.Duration("duration", took),
		slog.String("ip", c.RealIP()),
	)
}

// logPath is a request's path for the access line. A client may put a
// token in a URL it makes up (a poll or mp token pasted into a path gets a
// 404), and the path is one string, so the redaction's whole-value test
// would not see it: each segment long enough to be a secret (ours are 40+
// characters; scene and other IDs are 32) is judged alone.
func logPath(p string) string {
	var b strings.Builder
	rest, done := p, 0
	for rest != "" {
		seg, after, _ := strings.Cut(rest, "/")
		start := len(p) - len(rest)
		if len(seg) >= 40 {
			if r := redactString(seg); r != seg {
				b.WriteString(p[done:start])
				b.WriteString(r)
				done = start + len(seg)
			}
		}
		rest = after
	}
	if done == 0 {
		return p
	}
	b.WriteString(p[done:])
	return b.String()
}

// logAttrs is l.LogAttrs without looking up the caller: no handler of ours
// prints the source, and the lookup (runtime.Callers) was about 2 % of a
// server's CPU under load, for the two lines most requests write
// (docs/BENCHMARKS.md, "Fifth sitting").
func logAttrs(ctx context.Context, l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	h := l.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r)
}

// audit writes the audit line of docs/ARCHITECTURE.md#logging for one
// transition or redeem. It is a warning only when the server failed (5xx):
// a refusal the client caused (409, 429, ...) is routine, and a warning is
// written at once, so a flood of refusals would cost a write each.
func (s *Server) audit(c echo.Context, action, scene, userID string, err error) {
	outcome := "ok"
	level := slog.LevelInfo
	if err != nil {
		e := errorFor(err)
		outcome = e.Code
		if e.Status >= 500 {
			level = slog.LevelWarn
		}
	}
	s.metrics.transition(action, err)
	logAttrs(c.Request().Context(), s.log, level, "audit",
		slog.String("action", action),
		slog.String("scene", scene),
		slog.String("user_id", userID),
		slog.String("ip", c.RealIP()),
		slog.String("user_agent", c.Request().UserAgent()),
		slog.String("outcome", outcome),
		slog.String("request_id", requestID(c)),
	)
}
