package wxapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// DecryptUserData decrypts open data (getUserProfile, the legacy phone
// number, share info): AES-128-CBC with key and iv the base64-decoded session
// key and iv, PKCS#7 padding. The plaintext must be a JSON object whose
// watermark.appid is the client's AppID. Every failure (bad base64, sizes,
// padding, JSON, watermark) is ErrBadData; a wrong key usually means the user
// called wx.login after the data was produced and the session key rotated.
func (c *Client) DecryptUserData(sessionKey, encryptedData, iv string) ([]byte, error) {
	plain, err := decryptCBC(sessionKey, encryptedData, iv)
	if err != nil {
		return nil, err
	}
	var w struct {
		Watermark *watermark `json:"watermark"`
	}
	if err := json.Unmarshal(plain, &w); err != nil {
		return nil, fmt.Errorf("wxapi: decrypt user data: plaintext is not a JSON object: %w", ErrBadData)
	}
	if w.Watermark == nil || w.Watermark.AppID != c.appID {
		return nil, fmt.Errorf("wxapi: decrypt user data: watermark does not name this app: %w", ErrBadData)
	}
	return plain, nil
}

func decryptCBC(sessionKey, encryptedData, iv string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != 16 {
		return nil, fmt.Errorf("wxapi: decrypt user data: session key is not 16 bytes of base64: %w", ErrBadData)
	}
	ivb, err := base64.StdEncoding.DecodeString(iv)
	if err != nil || len(ivb) != aes.BlockSize {
		return nil, fmt.Errorf("wxapi: decrypt user data: iv is not 16 bytes of base64: %w", ErrBadData)
	}
	ct, err := base64.StdEncoding.DecodeString(encryptedData)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("wxapi: decrypt user data: encrypted data is not whole AES blocks of base64: %w", ErrBadData)
	}
	block, _ := aes.NewCipher(key) // 16 bytes: cannot fail
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(plain, ct)
	n := int(plain[len(plain)-1])
	if n < 1 || n > aes.BlockSize {
		return nil, fmt.Errorf("wxapi: decrypt user data: bad padding (stale session key?): %w", ErrBadData)
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			return nil, fmt.Errorf("wxapi: decrypt user data: bad padding (stale session key?): %w", ErrBadData)
		}
	}
	return plain[:len(plain)-n], nil
}

// VerifyRawData checks the signature of non-sensitive user data:
// lowercase hex SHA-1 of rawData (exactly as the client received it)
// followed by the session key. A mismatch is ErrBadData.
func VerifyRawData(rawData, signature, sessionKey string) error {
	sum := sha1.Sum([]byte(rawData + sessionKey))
	want := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(signature))) != 1 {
		return fmt.Errorf("wxapi: raw data signature mismatch: %w", ErrBadData)
	}
	return nil
}
