package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/oidcop"
)

// env reads variables, each once; every error names its variable.
type env struct {
	getenv func(string) string
	errs   []error
}

func (e *env) fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

func (e *env) str(name string) string { return strings.TrimSpace(e.getenv(name)) }

// secret reads NAME, or the file named by NAME_FILE (trailing newline
// dropped); giving both is an error.
func (e *env) secret(name string) string {
	v, file := e.getenv(name), e.str(name+"_FILE")
	if file == "" {
		return strings.TrimSpace(v)
	}
	if v != "" {
		e.fail(name, "set %s or %s_FILE, not both", name, name)
		return ""
	}
	b, err := os.ReadFile(file)
	if err != nil {
		e.fail(name+"_FILE", "%v", err)
		return ""
	}
	return strings.TrimSpace(string(b))
}

// duration accepts Go durations ("90s", "2m") and plain seconds ("120").
func (e *env) duration(name string) time.Duration {
	v := e.str(name)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			// Zero would silently mean "the default".
			e.fail(name, "want a positive number of seconds or a duration such as 120s, got %q", v)
			return 0
		}
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.fail(name, "want a positive duration such as 120s or 2m, got %q", v)
		return 0
	}
	return d
}

func (e *env) boolean(name string) bool {
	switch strings.ToLower(e.str(name)) {
	case "", "off", "false", "0", "no":
		return false
	case "on", "true", "1", "yes":
		return true
	}
	e.fail(name, "want on or off, got %q", e.str(name))
	return false
}

func (e *env) list(name string) []string {
	var out []string
	for _, p := range strings.Split(e.str(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loadConfig parses every SCANLOGIN_* variable once into an app.Config
// and validates it; unset variables stay zero for the defaults.
func loadConfig(getenv func(string) string) (app.Config, error) {
	e := &env{getenv: getenv}
	cfg := app.Config{
		Addr:          e.str("SCANLOGIN_ADDR"),
		PublicURL:     e.str("SCANLOGIN_PUBLIC_URL"),
		RedisURL:      e.secret("SCANLOGIN_REDIS_URL"),
		DatabaseURL:   e.secret("SCANLOGIN_DATABASE_URL"),
		DataDir:       e.str("SCANLOGIN_DATA_DIR"),
		WeChatAppID:   e.str("SCANLOGIN_WECHAT_APPID"),
		WeChatSecret:  e.secret("SCANLOGIN_WECHAT_SECRET"),
		WeChatBaseURL: e.str("SCANLOGIN_WECHAT_BASE_URL"),
		MPPage:        e.str("SCANLOGIN_MP_PAGE"),
		MPEnvVersion:  e.str("SCANLOGIN_MP_ENV_VERSION"),
		Issuer:        e.str("SCANLOGIN_ISSUER"),
		Audience:      e.str("SCANLOGIN_AUDIENCE"),
		SiteName:      e.str("SCANLOGIN_SITE_NAME"),

		AccessTokenTTL: e.duration("SCANLOGIN_ACCESS_TOKEN_TTL"),
		SessionTTL:     e.duration("SCANLOGIN_SESSION_TTL"),
		MPTokenTTL:     e.duration("SCANLOGIN_MP_TOKEN_TTL"),
		SceneTTL:       e.duration("SCANLOGIN_SCENE_TTL"),
		ConfirmWindow:  e.duration("SCANLOGIN_CONFIRM_WINDOW"),
		HardCap:        e.duration("SCANLOGIN_HARD_CAP"),
		RedeemWindow:   e.duration("SCANLOGIN_REDEEM_WINDOW"),
		NumberMatch:    e.boolean("SCANLOGIN_NUMBER_MATCH"),
		AllowedOrigins: e.list("SCANLOGIN_ALLOWED_ORIGINS"),
		AvatarHosts:    e.list("SCANLOGIN_AVATAR_HOSTS"),
		QRMode:         e.str("SCANLOGIN_QR_MODE"),
		QRLinkPrefix:   e.str("SCANLOGIN_QR_LINK_PREFIX"),
		VerifyFiles:    verifyFiles(e, "SCANLOGIN_WECHAT_VERIFY_FILE"),
	}
	switch v := e.str("SCANLOGIN_SHUTDOWN_DELAY"); v {
	case "", "0", "0s": // no delay is the default, and a valid choice
	default:
		cfg.ShutdownDelay = e.duration("SCANLOGIN_SHUTDOWN_DELAY")
	}
	if files := e.str("SCANLOGIN_SIGNING_KEY_FILE"); files != "" {
		keys, err := server.LoadSigningKeys(files)
		if err != nil {
			e.fail("SCANLOGIN_SIGNING_KEY_FILE", "%v", err)
		}
		cfg.SigningKeys = keys
	}
	if files := e.str("SCANLOGIN_OIDC_RSA_KEY_FILE"); files != "" {
		keys, err := oidcop.LoadRSAKeys(files)
		if err != nil {
			e.fail("SCANLOGIN_OIDC_RSA_KEY_FILE", "%v", err)
		}
		cfg.OIDCRSAKeys = keys
	}
	if f := e.str("SCANLOGIN_OIDC_CLIENTS_FILE"); f != "" {
		cfg.OIDCClientsFile = f
		clients, err := app.LoadOIDCClients(f, cfg.Audience)
		if err != nil {
			e.fail("SCANLOGIN_OIDC_CLIENTS_FILE", "%v", err)
		}
		cfg.OIDCClients = clients
	}
	if v := e.secret("SCANLOGIN_SESSION_KEY_SECRET"); v != "" {
		b, err := decodeKey(v)
		if err != nil {
			e.fail("SCANLOGIN_SESSION_KEY_SECRET", "want 32 bytes as 64 hex characters or base64")
		}
		cfg.SessionKeySecret = b
	}
	for _, p := range e.list("SCANLOGIN_TRUSTED_PROXIES") {
		n, err := parseCIDR(p)
		if err != nil {
			e.fail("SCANLOGIN_TRUSTED_PROXIES", "want IP addresses or CIDR ranges, got %q", p)
			continue
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, n)
	}
	cfg.Limits = parseLimits(e, "SCANLOGIN_RATE_LIMITS")
	if a, err := server.ParseAdmission(e.str("SCANLOGIN_ADMISSION")); err != nil {
		e.fail("SCANLOGIN_ADMISSION", "%v", err)
	} else {
		cfg.Admission = a
	}
	if err := errors.Join(e.errs...); err != nil {
		return cfg, err
	}
	// Defaults are app.New's to fill (some depend on the listener), but
	// the values must be valid with them.
	full := cfg.WithDefaults()
	return cfg, full.Validate()
}

func decodeKey(v string) ([]byte, error) {
	if len(v) == 64 {
		if b, err := hex.DecodeString(v); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("bad key")
}

func parseCIDR(s string) (*net.IPNet, error) {
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, errors.New("bad IP")
		}
		bits := 32
		if ip.To4() == nil {
			bits = 128
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	return n, err
}

// parseLimits reads "create=30,login=30,scan=20,poll=120" (per minute per
// client IP, IP, user and scene; 0 disables one). Unnamed limits keep their
// defaults. A 0 becomes app.LimitOff, so that all four at 0 mean no
// limits rather than an empty Limits, which app.New fills with defaults.
func parseLimits(e *env, name string) app.Limits {
	l := app.DefaultLimits
	for _, part := range e.list(name) {
		k, v, _ := strings.Cut(part, "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			e.fail(name, "want name=count per minute, got %q", part)
			continue
		}
		if n == 0 {
			n = app.LimitOff
		}
		switch strings.TrimSpace(k) {
		case "create":
			l.CreatePerIP = n
		case "login":
			l.LoginPerIP = n
		case "scan":
			l.ScanPerUser = n
		case "poll":
			l.PollPerScene = n
		default:
			e.fail(name, "unknown limit %q (want create, login, scan or poll)", k)
		}
	}
	return l
}
