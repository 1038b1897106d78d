package oidcop

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.yaml.in/yaml/v3"
)

// Signing algorithms a client may ask for (id_token_signed_response_alg).
const (
	AlgRS256 = "RS256"
	AlgEdDSA = "EdDSA"
)

// idTokenAlgs are all the algorithms ID tokens are signed with.
var idTokenAlgs = []string{AlgRS256, AlgEdDSA}

// minSecretLen is the shortest client secret accepted (docs/OIDC.md#clients).
const minSecretLen = 32

// ClientConfig is one client of SCANLOGIN_OIDC_CLIENTS_FILE
// (docs/OIDC.md#clients).
type ClientConfig struct {
	ID                     string   `yaml:"id"`
	Name                   string   `yaml:"name"` // shown on the login page; default the ID
	Secret                 string   `yaml:"secret"`
	Public                 bool     `yaml:"public"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	BackchannelLogoutURI   string   `yaml:"backchannel_logout_uri"`
	IDTokenAlg             string   `yaml:"id_token_signed_response_alg"`
	EmailDomain            string   `yaml:"email_domain"`
}

// String never shows the secret.
func (c ClientConfig) String() string { return "client " + c.ID }

type clientsFile struct {
	Clients []ClientConfig `yaml:"clients"`
}

var (
	clientIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	domainRE   = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
)

// ParseClients reads and validates a clients file. Every problem is
// reported, each naming the client and the field; reserved lists client
// IDs that may not be used (the access tokens' audience).
func ParseClients(data []byte, reserved ...string) ([]ClientConfig, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f clientsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a valid clients file: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	for i := range f.Clients {
		c := &f.Clients[i]
		name := fmt.Sprintf("clients[%d]", i)
		if c.ID != "" {
			name += fmt.Sprintf(" (id %q)", c.ID)
		}
		bad := func(field, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s: %s", name, field, fmt.Sprintf(format, args...)))
		}
		switch {
		case c.ID == "":
			bad("id", "required")
		case !clientIDRE.MatchString(c.ID):
			bad("id", "use letters, digits and . _ : - (at most 128)")
		case seen[c.ID]:
			bad("id", "used by an earlier client")
		case slices.Contains(reserved, c.ID):
			bad("id", "reserved (it is the access tokens' audience, SCANLOGIN_AUDIENCE)")
		}
		seen[c.ID] = true
		switch {
		case c.Public && c.Secret != "":
			bad("secret", "a public client has no secret (it proves itself with PKCE)")
		case !c.Public && len(c.Secret) < minSecretLen:
			bad("secret", "must be at least %d characters (or set public: true)", minSecretLen)
		}
		if len(c.RedirectURIs) == 0 {
			bad("redirect_uris", "at least one is required")
		}
		for j, u := range c.RedirectURIs {
			if err := checkClientURL(u); err != nil {
				bad(fmt.Sprintf("redirect_uris[%d]", j), "%v", err)
			}
		}
		for j, u := range c.PostLogoutRedirectURIs {
			if err := checkClientURL(u); err != nil {
				bad(fmt.Sprintf("post_logout_redirect_uris[%d]", j), "%v", err)
			}
		}
		if c.BackchannelLogoutURI != "" {
			if err := checkClientURL(c.BackchannelLogoutURI); err != nil {
				bad("backchannel_logout_uri", "%v", err)
			}
		}
		switch c.IDTokenAlg {
		case "":
			c.IDTokenAlg = AlgRS256
		case AlgRS256, AlgEdDSA:
		default:
			bad("id_token_signed_response_alg", "want RS256 or EdDSA, got %q", c.IDTokenAlg)
		}
		if c.EmailDomain != "" && (!domainRE.MatchString(c.EmailDomain) || len(c.EmailDomain) > 253) {
			bad("email_domain", "want a domain name such as wechat.example.com, got %q", c.EmailDomain)
		}
		if c.Name == "" {
			c.Name = c.ID
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f.Clients, nil
}

// checkClientURL: an absolute https URL without fragment; plain http only
// to a loopback host (a developer's machine, tests).
func checkClientURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return fmt.Errorf("want an absolute URL, got %q", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("must not have a fragment: %q", raw)
	}
	if u.User != nil {
		return fmt.Errorf("must not carry user information: %q", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("plain http only for localhost or a loopback address, got %q", raw)
	}
	return fmt.Errorf("want https, got %q", raw)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// LoadClientsFile reads and validates the clients file at path.
func LoadClientsFile(path string, reserved ...string) ([]ClientConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseClients(data, reserved...)
}

// clientSet is the clients in force; Reload swaps it whole.
type clientSet struct {
	byID atomic.Pointer[map[string]*client]
}

func (s *clientSet) set(cs []ClientConfig, loginURL func(string) string) {
	m := make(map[string]*client, len(cs))
	for _, c := range cs {
		m[c.ID] = &client{cfg: c, loginURL: loginURL}
	}
	s.byID.Store(&m)
}

func (s *clientSet) get(id string) (*client, bool) {
	m := s.byID.Load()
	if m == nil {
		return nil, false
	}
	c, ok := (*m)[id]
	return c, ok
}

// client is a ClientConfig as the op library sees it.
type client struct {
	cfg ClientConfig
	// loginURL is set by the Provider: where the authorization endpoint
	// sends the browser to sign in.
	loginURL func(authRequestID string) string
}

// checkSecret compares in constant time (the lengths may leak, which the
// 32-character minimum makes harmless).
func (c *client) checkSecret(secret string) bool {
	if c.cfg.Public {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(secret), []byte(c.cfg.Secret)) == 1
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.cfg.ID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	if c.cfg.Public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.cfg.Public {
		return oidc.AuthMethodNone
	}
	// Basic is what the library checks first; a secret in the form body
	// (client_secret_post) is accepted too (op.Config.AuthMethodPost).
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string           { return c.loginURL(id) }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return idTokenLifetime }

// DevMode relaxes only the library's scheme policy for registered redirect
// URIs; ParseClients already allows plain http for loopback hosts alone,
// and every URI still has to match a registered one exactly.
func (c *client) DevMode() bool                        { return true }
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
