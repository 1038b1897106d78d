package app

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/oidcop"
)

// Config is the application's configuration, parsed once from the
// environment by cmd/scanlogin (the variable names below are the contract
// of README.md's configuration table) or filled in directly by tests.
type Config struct {
	Addr      string // SCANLOGIN_ADDR, default ":8080"
	PublicURL string // SCANLOGIN_PUBLIC_URL: absolute base URL browsers and phones use; derived from Addr when empty
	RedisURL  string // SCANLOGIN_REDIS_URL; empty = embedded Redis (dev mode only)
	// DatabaseURL is SCANLOGIN_DATABASE_URL, the durable store of users:
	// postgres://... or sqlite:///path/file.db. Required with WeChat
	// credentials; in dev mode it defaults to a SQLite file in DataDir.
	DatabaseURL string
	// DataDir is SCANLOGIN_DATA_DIR, where dev mode keeps its SQLite
	// database; default .scanlogin under the working directory.
	DataDir string

	WeChatAppID   string // SCANLOGIN_WECHAT_APPID; empty together with the secret = dev mode
	WeChatSecret  string // SCANLOGIN_WECHAT_SECRET (or _FILE)
	WeChatBaseURL string // SCANLOGIN_WECHAT_BASE_URL, default https://api.weixin.qq.com
	MPPage        string // SCANLOGIN_MP_PAGE, default pages/scan/scan
	MPEnvVersion  string // SCANLOGIN_MP_ENV_VERSION: release | trial | develop

	SigningKeys      []server.SigningKey // from SCANLOGIN_SIGNING_KEY_FILE; generated in dev mode when empty
	SessionKeySecret []byte              // SCANLOGIN_SESSION_KEY_SECRET (or _FILE): 32 bytes, encrypts session_key at rest
	Issuer           string              // SCANLOGIN_ISSUER, default PublicURL
	Audience         string              // SCANLOGIN_AUDIENCE, default scanlogin-web
	AccessTokenTTL   time.Duration
	SessionTTL       time.Duration
	MPTokenTTL       time.Duration
	// RefreshReuseWindow: how long a rotated refresh token still answers
	// with its successor (docs/ARCHITECTURE.md#tokens). Not an environment
	// variable: 0 takes scanlogin.DefaultRefreshReuseWindow (10 s); tests
	// shorten it.
	RefreshReuseWindow time.Duration

	SceneTTL      time.Duration // SCANLOGIN_SCENE_TTL, default 120s
	ConfirmWindow time.Duration
	HardCap       time.Duration
	RedeemWindow  time.Duration
	NumberMatch   bool   // SCANLOGIN_NUMBER_MATCH=on
	QRMode        string // SCANLOGIN_QR_MODE: wxacode (default) | link
	QRLinkPrefix  string // SCANLOGIN_QR_LINK_PREFIX: link mode's https URL prefix, ending in / or =
	// VerifyFiles are WeChat's verification files (name -> content), from
	// SCANLOGIN_WECHAT_VERIFY_FILE (name.txt:content, or a directory).
	VerifyFiles map[string][]byte
	SiteName    string // SCANLOGIN_SITE_NAME, shown on the confirm page

	AllowedOrigins []string     // SCANLOGIN_ALLOWED_ORIGINS: CORS for the widget, also trusted by the Origin check
	AvatarHosts    []string     // SCANLOGIN_AVATAR_HOSTS: https hosts an avatar_url may name, default server.DefaultAvatarHosts
	TrustedProxies []*net.IPNet // SCANLOGIN_TRUSTED_PROXIES: peers whose X-Forwarded-For is believed

	Limits Limits

	ShutdownDelay time.Duration // SCANLOGIN_SHUTDOWN_DELAY: /readyz fails this long before connections drain

	// Admission is SCANLOGIN_ADMISSION (server.ParseAdmission): how many
	// requests work at once and how long new work and work under way may
	// wait for a slot (docs/ARCHITECTURE.md#overload). Zero: the defaults.
	Admission server.AdmissionConfig

	// The OpenID Connect provider (docs/OIDC.md): on in dev mode (with the
	// demo client) and whenever a clients file is given.
	OIDCClientsFile string                // SCANLOGIN_OIDC_CLIENTS_FILE, re-read on SIGHUP (App.ReloadOIDCClients)
	OIDCClients     []oidcop.ClientConfig // its clients, as loaded at start-up
	OIDCRSAKeys     []oidcop.RSAKey       // SCANLOGIN_OIDC_RSA_KEY_FILE: [0] signs ID tokens; dev mode generates one
}

// OIDCEnabled reports whether the OpenID provider runs.
func (c *Config) OIDCEnabled() bool {
	return c.DevMode() || c.OIDCClientsFile != "" || len(c.OIDCClients) > 0
}

// LoadOIDCClients reads and checks a clients file; messages name the
// client and the field. audience (the access tokens' aud) may not be a
// client ID: an ID token for it would pass for an access token.
func LoadOIDCClients(path, audience string) ([]oidcop.ClientConfig, error) {
	if audience == "" {
		audience = DefaultAudience
	}
	return oidcop.LoadClientsFile(path, audience)
}

// Limits are the rate limits, as events per minute; 0 or LimitOff
// disables a limit. An all-zero Limits is "unset" and takes DefaultLimits:
// to turn every limit off, use LimitOff. The first three go to the server's
// limiter, the poll limit to the engine.
type Limits struct {
	CreatePerIP  int // scenes created per client IP
	LoginPerIP   int // mini-program logins per client IP
	ScanPerUser  int // scans per user (consent bombing)
	PollPerScene int // state requests per scene
}

// Defaults used for every zero field by WithDefaults.
const (
	DefaultAddr           = ":8080"
	DefaultWeChatBaseURL  = "https://api.weixin.qq.com"
	DefaultMPPage         = "pages/scan/scan"
	DefaultMPEnvVersion   = "release"
	DefaultAudience       = "scanlogin-web"
	DefaultSiteName       = "scanlogin demo"
	DefaultSceneTTL       = 120 * time.Second
	DefaultAccessTokenTTL = 15 * time.Minute
	DefaultDataDir        = ".scanlogin"
	// devDatabaseFile is dev mode's SQLite file in the data directory.
	devDatabaseFile = "scanlogin.db"
)

// LimitOff disables a limit, like 0, but is not "unset".
const LimitOff = -1

// DefaultLimits are generous for people and tight for scripts.
var DefaultLimits = Limits{CreatePerIP: 30, LoginPerIP: 30, ScanPerUser: 20, PollPerScene: 120}

// DevMode reports whether the server runs the demo: no WeChat credentials.
func (c *Config) DevMode() bool { return c.WeChatAppID == "" && c.WeChatSecret == "" }

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.PublicURL == "" {
		c.PublicURL = PublicURLFromAddr(c.Addr)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.WeChatBaseURL == "" {
		c.WeChatBaseURL = DefaultWeChatBaseURL
	}
	if c.MPPage == "" {
		c.MPPage = DefaultMPPage
	}
	if c.MPEnvVersion == "" {
		c.MPEnvVersion = DefaultMPEnvVersion
		if c.DevMode() {
			c.MPEnvVersion = "develop"
		}
	}
	if c.Issuer == "" {
		c.Issuer = c.PublicURL
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if c.SceneTTL == 0 {
		c.SceneTTL = DefaultSceneTTL
	}
	if c.SiteName == "" {
		c.SiteName = DefaultSiteName
	}
	if c.AvatarHosts == nil {
		c.AvatarHosts = server.DefaultAvatarHosts
	}
	if c.QRMode == "" {
		c.QRMode = server.QRModeWxacode
	}
	if c.Limits == (Limits{}) {
		c.Limits = DefaultLimits
	}
	if c.DevMode() && c.DatabaseURL == "" {
		if c.DataDir == "" {
			c.DataDir = DefaultDataDir
		}
		if abs, err := filepath.Abs(c.DataDir); err == nil {
			c.DataDir = abs
		}
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, devDatabaseFile)
	}
	return c
}

// DescribeDatabase names the database of a SCANLOGIN_DATABASE_URL for the
// log, without its password: the SQLite file's path, or PostgreSQL's
// host and database.
func DescribeDatabase(rawURL string) string {
	if p, ok := strings.CutPrefix(rawURL, "sqlite://"); ok {
		if abs, err := filepath.Abs(p); err == nil {
			return "sqlite " + abs
		}
		return "sqlite " + p
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "postgres (unparsable URL)"
	}
	host := u.Host
	if h := u.Query().Get("host"); host == "" && h != "" {
		host = h
	}
	return "postgres " + host + u.Path
}

// PublicURLFromAddr is the default public URL for a listen address.
func PublicURLFromAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Validate checks the configuration after WithDefaults; every message names
// the environment variable to fix.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || !validPort(port) {
		bad("SCANLOGIN_ADDR", "want host:port with a port from 0 to 65535 (or a service name), got %q", c.Addr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		bad("SCANLOGIN_PUBLIC_URL", "want an absolute http(s) URL without path, got %q", c.PublicURL)
	}
	if (c.WeChatAppID == "") != (c.WeChatSecret == "") {
		bad("SCANLOGIN_WECHAT_APPID", "SCANLOGIN_WECHAT_APPID and SCANLOGIN_WECHAT_SECRET must be set together (neither = dev mode)")
	}
	switch {
	case c.DatabaseURL == "" && !c.DevMode():
		bad("SCANLOGIN_DATABASE_URL", "required with WeChat credentials: postgres://user:pass@host/db (or sqlite:///path/file.db for a single instance); users live there")
	case c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite://"):
		bad("SCANLOGIN_DATABASE_URL", "want postgres://... or sqlite:///path/file.db")
	}
	if !c.DevMode() {
		if c.RedisURL == "" {
			bad("SCANLOGIN_REDIS_URL", "required with WeChat credentials (the embedded Redis is for the demo only)")
		}
		if len(c.SigningKeys) == 0 {
			bad("SCANLOGIN_SIGNING_KEY_FILE", "required with WeChat credentials")
		}
		if len(c.SessionKeySecret) == 0 {
			bad("SCANLOGIN_SESSION_KEY_SECRET", "required with WeChat credentials")
		}
		// The default (http://localhost) is the demo's; phones reach a real
		// deployment only over HTTPS, and its cookies must be Secure.
		if u, err := url.Parse(c.PublicURL); err != nil || u.Scheme != "https" {
			bad("SCANLOGIN_PUBLIC_URL", "required with WeChat credentials: the https:// URL browsers and phones use, got %q", c.PublicURL)
		}
	}
	if len(c.SessionKeySecret) != 0 && len(c.SessionKeySecret) != 32 {
		bad("SCANLOGIN_SESSION_KEY_SECRET", "want 32 bytes (base64 or 64 hex characters), got %d bytes", len(c.SessionKeySecret))
	}
	if u, err := url.Parse(c.WeChatBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("SCANLOGIN_WECHAT_BASE_URL", "want an absolute http(s) URL, got %q", c.WeChatBaseURL)
	}
	if strings.HasPrefix(c.MPPage, "/") || c.MPPage == "" {
		bad("SCANLOGIN_MP_PAGE", "want a page path without a leading slash such as pages/scan/scan, got %q", c.MPPage)
	}
	switch c.MPEnvVersion {
	case "release", "trial", "develop":
	default:
		bad("SCANLOGIN_MP_ENV_VERSION", "want release, trial or develop, got %q", c.MPEnvVersion)
	}
	if len(c.SigningKeys) > 0 && c.SigningKeys[0].Private == nil {
		bad("SCANLOGIN_SIGNING_KEY_FILE", "the first key must be a private key")
	}
	switch c.QRMode {
	case server.QRModeWxacode:
	case server.QRModeLink:
		if c.QRLinkPrefix == "" {
			bad("SCANLOGIN_QR_LINK_PREFIX", "required with SCANLOGIN_QR_MODE=link: the URL prefix registered under 扫普通链接二维码打开小程序, e.g. https://login.example.com/s/")
		}
	default:
		bad("SCANLOGIN_QR_MODE", "want wxacode or link, got %q", c.QRMode)
	}
	if c.QRLinkPrefix != "" {
		if err := server.CheckLinkPrefix(c.QRLinkPrefix); err != nil {
			bad("SCANLOGIN_QR_LINK_PREFIX", "%v", err)
		}
	}
	for name := range c.VerifyFiles {
		if !server.VerifyFileName.MatchString(name) {
			bad("SCANLOGIN_WECHAT_VERIFY_FILE", "want a file name like abc123.txt, got %q", name)
		}
	}
	if c.SceneTTL < time.Second || c.SceneTTL > time.Hour {
		bad("SCANLOGIN_SCENE_TTL", "want between 1s and 1h, got %s", c.SceneTTL)
	}
	// A scene never outlives the hard cap from its creation: a longer
	// pending life would be cut short without a word.
	if hardCap := cmp.Or(c.HardCap, 5*time.Minute); c.SceneTTL > hardCap {
		bad("SCANLOGIN_SCENE_TTL", "%s is longer than SCANLOGIN_HARD_CAP (%s), which ends every scene; raise SCANLOGIN_HARD_CAP too", c.SceneTTL, hardCap)
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		bad("SCANLOGIN_ACCESS_TOKEN_TTL", "want between 1m and 24h, got %s", c.AccessTokenTTL)
	}
	for _, h := range c.AvatarHosts {
		if !server.ValidAvatarHost(h) {
			bad("SCANLOGIN_AVATAR_HOSTS", "want lowercase DNS names of public hosts such as thirdwx.qlogo.cn (no IP addresses, ports or localhost), got %q", h)
		}
	}
	for _, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			bad("SCANLOGIN_ALLOWED_ORIGINS", "want origins like https://example.com, got %q", o)
		}
	}
	if c.OIDCEnabled() {
		// Not even a trailing "/": the provider's issuer has none, and the
		// access tokens must name the same one (README.md). Refused, not
		// trimmed, so that tokens never change their iss unannounced.
		if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			bad("SCANLOGIN_ISSUER", "the OpenID provider needs an absolute http(s) URL without path or trailing slash (discovery is at {issuer}/.well-known/openid-configuration), got %q", c.Issuer)
		}
		if !c.DevMode() && len(c.OIDCRSAKeys) == 0 {
			bad("SCANLOGIN_OIDC_RSA_KEY_FILE", "required with SCANLOGIN_OIDC_CLIENTS_FILE (make one with `scanlogin keygen rsa`)")
		}
		for _, cl := range c.OIDCClients {
			if cl.ID == c.Audience {
				bad("SCANLOGIN_OIDC_CLIENTS_FILE", "client %q: id: reserved (it is SCANLOGIN_AUDIENCE)", cl.ID)
			}
		}
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > time.Minute {
		bad("SCANLOGIN_SHUTDOWN_DELAY", "want between 0s and 1m, got %s", c.ShutdownDelay)
	}
	if min(c.Limits.CreatePerIP, c.Limits.LoginPerIP, c.Limits.ScanPerUser, c.Limits.PollPerScene) < LimitOff {
		bad("SCANLOGIN_RATE_LIMITS", "limits cannot be negative")
	}
	return errors.Join(errs...)
}

// validPort: a port net.Listen takes: a number up to 65535 or a service
// name the system knows ("http").
func validPort(p string) bool {
	_, err := net.LookupPort("tcp", p)
	return err == nil
}
