package wxapi

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecryptUserData: any input either decrypts to JSON whose watermark
// names the app, or fails with ErrBadData; nothing panics. Seeds (the
// sheet's vectors and broken variants) are in testdata/fuzz.
func FuzzDecryptUserData(f *testing.F) {
	f.Add("tiihtNczf5v6AKRyjwEUhQ==", "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDc", "r7BXXKkLb8qrSNn05n0qiA==")
	c, err := New(Config{AppID: "wx4f4bc4dec97d474b", Secret: "unused"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sessionKey, encryptedData, iv string) {
		out, err := c.DecryptUserData(sessionKey, encryptedData, iv)
		if err != nil {
			if !errors.Is(err, ErrBadData) || out != nil {
				t.Fatalf("error %v (output %q) is not ErrBadData", err, out)
			}
			return
		}
		var w struct {
			Watermark struct {
				AppID string `json:"appid"`
			} `json:"watermark"`
		}
		if json.Unmarshal(out, &w) != nil || w.Watermark.AppID != "wx4f4bc4dec97d474b" {
			t.Fatalf("accepted %q", out)
		}
	})
}

// FuzzDecodeResponse: any body decodes to success (valid JSON, errcode
// absent or 0), a *Error with a non-zero code, or an error matching
// ErrUnavailable; nothing panics.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"errcode":40029,"errmsg":"invalid code, rid: 623ea70a-74b9b592-3e3d489a"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var out sessionAnswer
		err := decodeResponse("fuzz", body, &out)
		var we *Error
		switch {
		case err == nil:
			if !json.Valid(body) {
				t.Fatalf("accepted invalid JSON %q", body)
			}
		case errors.As(err, &we):
			if we.Code == 0 || we.API != "fuzz" {
				t.Fatalf("bad *Error %#v", we)
			}
		case !errors.Is(err, ErrUnavailable):
			t.Fatalf("error %v is neither *Error nor ErrUnavailable", err)
		}
		var pa phoneAnswer
		_ = decodeResponse("fuzz", body, &pa)
		_ = looksJSON(body, "")
	})
}
