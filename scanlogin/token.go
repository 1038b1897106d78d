package scanlogin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"

	"github.com/google/uuid"
)

// newID returns a random UUID as 32 lowercase hex characters: it fits
// WeChat's 32-character scene limit.
func newID() string {
	u := uuid.New()
	return hex.EncodeToString(u[:])
}

// validID reports whether s looks like an ID from newID.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// newSecret returns 256 random bits, base64url without padding.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go >= 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is what Redis stores instead of a secret: SHA-256, hex. The
// secrets carry 256 random bits, so an unsalted fast hash is enough.
func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func equalHash(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// twoDigits returns a uniformly random code "00".."99".
func twoDigits() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(100))
	v := n.Int64()
	return string([]byte{byte('0' + v/10), byte('0' + v%10)})
}

// matchChoices returns three distinct codes including code, in random order.
func matchChoices(code string) []string {
	out := []string{code}
	for len(out) < 3 {
		c := twoDigits()
		dup := false
		for _, o := range out {
			dup = dup || o == c
		}
		if !dup {
			out = append(out, c)
		}
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(3))
	i := n.Int64()
	out[0], out[i] = out[i], out[0]
	return out
}

// sealer encrypts session keys at rest with AES-256-GCM. The user ID is the
// associated data, so a ciphertext copied onto another user does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead: aead}, nil
}

func (s sealer) seal(plain, userID string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := s.aead.Seal(nonce, nonce, []byte(plain), []byte(userID))
	return base64.RawStdEncoding.EncodeToString(ct)
}

func (s sealer) open(sealed, userID string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return "", err
	}
	n := s.aead.NonceSize()
	if len(b) < n {
		return "", errors.New("sealed value too short")
	}
	p, err := s.aead.Open(nil, b[:n], b[n:], []byte(userID))
	if err != nil {
		return "", err
	}
	return string(p), nil
}
