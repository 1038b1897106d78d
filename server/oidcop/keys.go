package oidcop

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// RSAKeyBits is the size of the RSA keys keygen and dev mode make.
const RSAKeyBits = 2048

// RSAKey is one RSA key for ID tokens. Private is nil for a key that only
// verifies (a retired key kept published until its ID tokens have expired;
// docs/OIDC.md#keys).
type RSAKey struct {
	ID      string // RFC 7638 thumbprint, the JWT "kid"
	Public  *rsa.PublicKey
	Private *rsa.PrivateKey
}

// EdKey is one of the Ed25519 keys of SCANLOGIN_SIGNING_KEY_FILE, for the
// clients that ask for EdDSA ID tokens; Private is nil for a retired key.
type EdKey struct {
	ID      string
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
}

// NewRSAKey wraps a private key; its ID is its RFC 7638 thumbprint, so
// every instance loading it agrees on the kid.
func NewRSAKey(priv *rsa.PrivateKey) RSAKey {
	return RSAKey{ID: rsaThumbprint(&priv.PublicKey), Public: &priv.PublicKey, Private: priv}
}

// GenerateRSAKey makes a fresh key (keygen, dev mode, tests).
func GenerateRSAKey() (RSAKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, RSAKeyBits)
	if err != nil {
		return RSAKey{}, err
	}
	return NewRSAKey(priv), nil
}

func rsaThumbprint(pub *rsa.PublicKey) string {
	// Members in lexicographic order, no whitespace (RFC 7638 §3.2).
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	n := base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseRSAKeyPEM reads one PEM block: a PKCS#8 "PRIVATE KEY" or PKCS#1
// "RSA PRIVATE KEY" (signs and verifies) or a PKIX "PUBLIC KEY" (verifies).
func ParseRSAKeyPEM(data []byte) (RSAKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return RSAKey{}, errors.New("no PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	default:
		return RSAKey{}, fmt.Errorf("PEM block %q: want PRIVATE KEY, RSA PRIVATE KEY or PUBLIC KEY", block.Type)
	}
	if err != nil {
		return RSAKey{}, err
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return RSAKey{}, fmt.Errorf("RSA key of %d bits: want at least 2048", k.N.BitLen())
		}
		return NewRSAKey(k), nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return RSAKey{}, fmt.Errorf("RSA key of %d bits: want at least 2048", k.N.BitLen())
		}
		return RSAKey{ID: rsaThumbprint(k), Public: k}, nil
	}
	return RSAKey{}, fmt.Errorf("%T is not an RSA key", k)
}

// LoadRSAKeys reads the comma-separated PEM files of
// SCANLOGIN_OIDC_RSA_KEY_FILE. The first must be private: it signs.
func LoadRSAKeys(paths string) ([]RSAKey, error) {
	return LoadKeyFiles(paths, ParseRSAKeyPEM, func(k RSAKey) bool { return k.Private != nil })
}

// LoadKeyFiles reads a comma-separated list of PEM key files with parse;
// the first key must be one that signs (a rotation list: the first signs,
// all verify).
func LoadKeyFiles[K any](paths string, parse func([]byte) (K, error), signs func(K) bool) ([]K, error) {
	var keys []K
	for _, p := range strings.Split(paths, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		k, err := parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key file given")
	}
	if !signs(keys[0]) {
		return nil, errors.New("the first key must be a private key: it signs")
	}
	return keys, nil
}

// MarshalRSAKeyPEM encodes a private key as PKCS#8 PEM.
func MarshalRSAKeyPEM(k RSAKey) ([]byte, error) { return MarshalPKCS8PEM(k.Private) }

// MarshalPKCS8PEM encodes any private key as a PKCS#8 "PRIVATE KEY" block,
// the form every key file of scanlogin takes.
func MarshalPKCS8PEM(priv any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// signingKey is an op.SigningKey.
type signingKey struct {
	alg jose.SignatureAlgorithm
	id  string
	key any
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

// publicKey is an op.Key.
type publicKey struct {
	alg jose.SignatureAlgorithm
	id  string
	key any
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }

var _ op.Key = publicKey{}

// keyring holds every key of the provider.
type keyring struct {
	rsa []RSAKey // rsa[0] signs
	ed  []EdKey  // ed[0] signs
}

func (k *keyring) signer(alg string) op.SigningKey {
	if alg == AlgEdDSA {
		return signingKey{alg: jose.EdDSA, id: k.ed[0].ID, key: k.ed[0].Private}
	}
	return signingKey{alg: jose.RS256, id: k.rsa[0].ID, key: k.rsa[0].Private}
}

// public is every public key, for verifying id_token_hint.
func (k *keyring) public() []op.Key {
	out := make([]op.Key, 0, len(k.rsa)+len(k.ed))
	for _, r := range k.rsa {
		out = append(out, publicKey{alg: jose.RS256, id: r.ID, key: r.Public})
	}
	for _, e := range k.ed {
		out = append(out, publicKey{alg: jose.EdDSA, id: e.ID, key: e.Public})
	}
	return out
}

// RSAJWKs are the RSA public keys as JWKs, for /.well-known/jwks.json
// beside the Ed25519 keys the server publishes already.
func (k *keyring) rsaJWKs() []jose.JSONWebKey {
	out := make([]jose.JSONWebKey, 0, len(k.rsa))
	for _, r := range k.rsa {
		out = append(out, jose.JSONWebKey{Key: r.Public, KeyID: r.ID, Algorithm: string(jose.RS256), Use: "sig"})
	}
	return out
}
