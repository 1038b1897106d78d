package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scanlogin/scanlogin/server/oidcop"
)

// maxTokenLen bounds the size of an access token we are willing to parse.
// Ours are about 400 bytes; anything far larger is an attack on the parser.
const maxTokenLen = 4096

// errBadToken is what every verification failure becomes: callers learn
// nothing about which check failed, the log gets the detail.
var errBadToken = errors.New("server: invalid access token")

// SigningKey is one Ed25519 key of the key set. Private is nil for a key that
// only verifies (a retired key kept until the tokens it signed have expired).
type SigningKey struct {
	ID      string // RFC 7638 thumbprint, the JWT "kid"
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
}

// NewSigningKey wraps an Ed25519 key; the key ID is its RFC 7638 thumbprint
// so every instance loading the same key agrees on the kid.
func NewSigningKey(priv ed25519.PrivateKey) SigningKey {
	pub := priv.Public().(ed25519.PublicKey)
	return SigningKey{ID: thumbprint(pub), Public: pub, Private: priv}
}

// GenerateSigningKey makes a fresh key (dev mode and tests).
func GenerateSigningKey() (SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, err
	}
	return NewSigningKey(priv), nil
}

func thumbprint(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace (RFC 7638 §3).
	j := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(j))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseSigningKeyPEM reads one PEM block: a PKCS#8 "PRIVATE KEY" (signs and
// verifies) or a PKIX "PUBLIC KEY" (verifies only). Both must be Ed25519.
func ParseSigningKeyPEM(data []byte) (SigningKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return SigningKey{}, errors.New("no PEM block")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return SigningKey{}, err
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return SigningKey{}, fmt.Errorf("%T is not an Ed25519 key", k)
		}
		return NewSigningKey(priv), nil
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return SigningKey{}, err
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return SigningKey{}, fmt.Errorf("%T is not an Ed25519 key", k)
		}
		return SigningKey{ID: thumbprint(pub), Public: pub}, nil
	default:
		return SigningKey{}, fmt.Errorf("PEM block %q: want PRIVATE KEY or PUBLIC KEY", block.Type)
	}
}

// LoadSigningKeys reads the comma-separated PEM files of
// SCANLOGIN_SIGNING_KEY_FILE. The first file must hold a private key: it
// signs; the others only verify.
func LoadSigningKeys(paths string) ([]SigningKey, error) {
	return oidcop.LoadKeyFiles(paths, ParseSigningKeyPEM, func(k SigningKey) bool { return k.Private != nil })
}

// MarshalSigningKeyPEM encodes a private key as PKCS#8 PEM.
func MarshalSigningKeyPEM(k SigningKey) ([]byte, error) { return oidcop.MarshalPKCS8PEM(k.Private) }

// accessClaims are the claims of a web access token (docs/ARCHITECTURE.md#tokens).
type accessClaims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// TokenIssuer signs and verifies access tokens.
type TokenIssuer struct {
	keys     []SigningKey // keys[0] signs
	byID     map[string]SigningKey
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewTokenIssuer returns the issuer of access tokens: keys[0] signs (it
// must be private), every key verifies; issuer and audience are the iss
// and aud claims, ttl the tokens' lifetime, now the clock (default
// time.Now).
func NewTokenIssuer(keys []SigningKey, issuer, audience string, ttl time.Duration, now func() time.Time) (*TokenIssuer, error) {
	if now == nil {
		now = time.Now
	}
	if len(keys) == 0 || keys[0].Private == nil {
		return nil, errors.New("server: a private signing key is required")
	}
	byID := make(map[string]SigningKey, len(keys))
	for _, k := range keys {
		byID[k.ID] = k
	}
	return &TokenIssuer{keys: keys, byID: byID, issuer: issuer, audience: audience, ttl: ttl, now: now}, nil
}

// Sign issues an access token for a user's web session.
func (t *TokenIssuer) Sign(userID, sessionID string) (string, time.Duration, error) {
	now := t.now()
	// A random jti makes every token unique: two issued in the same second
	// for one session would otherwise be identical (Ed25519 is
	// deterministic).
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	claims := accessClaims{
		SessionID: sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = t.keys[0].ID
	s, err := tok.SignedString(t.keys[0].Private)
	return s, t.ttl, err
}

// Verify checks an access token: EdDSA only, a kid among our keys, iss, aud
// and exp present and valid, sub and sid present.
func (t *TokenIssuer) Verify(raw string) (*accessClaims, error) {
	if len(raw) > maxTokenLen {
		return nil, fmt.Errorf("%w: %d bytes", errBadToken, len(raw))
	}
	var claims accessClaims
	_, err := jwt.ParseWithClaims(raw, &claims, t.keyFor,
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadToken, err)
	}
	if claims.Subject == "" || claims.SessionID == "" {
		return nil, fmt.Errorf("%w: sub or sid missing", errBadToken)
	}
	return &claims, nil
}

func (t *TokenIssuer) keyFor(tok *jwt.Token) (any, error) {
	kid, _ := tok.Header["kid"].(string)
	k, ok := t.byID[kid]
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return k.Public, nil
}

// jwk is one public key of the JWKS (RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the document served at /.well-known/jwks.json: every configured
// key, so tokens signed by a retired key still verify until they expire.
func (t *TokenIssuer) JWKS() map[string][]jwk {
	out := make([]jwk, 0, len(t.keys))
	for _, k := range t.keys {
		out = append(out, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public), Kid: k.ID, Use: "sig", Alg: "EdDSA"})
	}
	return map[string][]jwk{"keys": out}
}
