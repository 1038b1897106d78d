package server

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func testIssuer(t *testing.T, keys ...SigningKey) *TokenIssuer {
	t.Helper()
	if len(keys) == 0 {
		k, err := GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = []SigningKey{k}
	}
	ti, err := NewTokenIssuer(keys, "https://login.example", "scanlogin-web", 15*time.Minute, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return ti
}

// forge signs claims with any method and key, with the given header kid.
func forge(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": "https://login.example", "aud": "scanlogin-web", "sub": "user1", "sid": "sess1",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

func without(c jwt.MapClaims, key string) jwt.MapClaims {
	delete(c, key)
	return c
}

func with(c jwt.MapClaims, key string, v any) jwt.MapClaims {
	c[key] = v
	return c
}

func TestJWTAttacksRefused(t *testing.T) {
	ti := testIssuer(t)
	key := ti.keys[0]
	other, _ := GenerateSigningKey()

	good := forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, goodClaims())
	if _, err := ti.Verify(good); err != nil {
		t.Fatalf("a good token is refused: %v", err)
	}
	signed, _, err := ti.Sign("user1", "sess1")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := ti.Verify(signed)
	if err != nil || claims.Subject != "user1" || claims.SessionID != "sess1" {
		t.Fatalf("own token: %+v %v", claims, err)
	}

	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(goodClaims())
	none := b64([]byte(`{"alg":"none","typ":"JWT","kid":"`+key.ID+`"}`)) + "." + b64(payload) + "."
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[5] ^= 0x01
	flipped := parts[0] + "." + parts[1] + "." + b64(sig)

	tests := []struct {
		name  string
		token string
	}{
		{"alg none", none},
		{"alg none via the library", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, key.ID, goodClaims())},
		{"HS256 keyed with the public key", forge(t, jwt.SigningMethodHS256, []byte(key.Public), key.ID, goodClaims())},
		{"HS256 keyed with the JWKS x", forge(t, jwt.SigningMethodHS256, []byte(b64(key.Public)), key.ID, goodClaims())},
		{"wrong aud", forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(goodClaims(), "aud", "other-app"))},
		{"wrong iss", forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(goodClaims(), "iss", "https://evil.example"))},
		{"missing aud", forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without(goodClaims(), "aud"))},
		{"missing iss", forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without(goodClaims(), "iss"))},
		{"missing exp", forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without(goodClaims(), "exp"))},
		{"past exp", forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(goodClaims(), "exp", time.Now().Add(-time.Minute).Unix()))},
		{"missing sid", forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without(goodClaims(), "sid"))},
		{"missing sub", forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without(goodClaims(), "sub"))},
		{"flipped signature byte", flipped},
		{"unknown kid", forge(t, jwt.SigningMethodEdDSA, other.Private, other.ID, goodClaims())},
		{"our kid, another key", forge(t, jwt.SigningMethodEdDSA, other.Private, key.ID, goodClaims())},
		{"no kid", forge(t, jwt.SigningMethodEdDSA, key.Private, "", goodClaims())},
		{"1 MB token", good + strings.Repeat("A", 1<<20)},
		{"garbage", "not.a.jwt"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			if c, err := ti.Verify(tt.token); err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("refusal took %s", d)
			}
		})
	}
}

// TestKeyRotation: the first key signs, every key verifies and is in the
// JWKS; kids are RFC 7638 thumbprints.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	var keys []SigningKey
	for i := range 2 {
		k, _ := GenerateSigningKey()
		pemBytes, err := MarshalSigningKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "k"+string(rune('0'+i))+".pem")
		if err := os.WriteFile(p, pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		keys = append(keys, k)
	}
	loaded, err := LoadSigningKeys(strings.Join(paths, ", "))
	if err != nil || len(loaded) != 2 || loaded[0].ID != keys[0].ID || loaded[1].ID != keys[1].ID {
		t.Fatalf("load: %v %v", loaded, err)
	}
	ti := testIssuer(t, loaded...)
	old := testIssuer(t, keys[1]) // the retired key, still trusted
	tok, _, _ := old.Sign("u", "s")
	if _, err := ti.Verify(tok); err != nil {
		t.Errorf("a token of the second key is refused: %v", err)
	}
	tok, _, _ = ti.Sign("u", "s")
	if h := strings.Split(tok, ".")[0]; !strings.Contains(string(mustB64(t, h)), keys[0].ID) {
		t.Errorf("the first key does not sign: header %s", mustB64(t, h))
	}
	set := ti.JWKS()["keys"]
	if len(set) != 2 || set[0].Kty != "OKP" || set[0].Crv != "Ed25519" || set[0].Kid != keys[0].ID || set[0].Alg != "EdDSA" {
		t.Fatalf("jwks: %+v", set)
	}
	if _, err := LoadSigningKeys(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("a missing file is accepted")
	}
	if _, err := ParseSigningKeyPEM([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")); err == nil {
		t.Error("a garbage key is accepted")
	}
}

// TestThumbprint checks the kid against RFC 8037 appendix A.3.
func TestThumbprint(t *testing.T) {
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got := thumbprint(x); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Fatalf("thumbprint %s", got)
	}
}

func mustB64(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
