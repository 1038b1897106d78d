package wxapi_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// Vectors from the fact sheet, §7.
const (
	demoAppID      = "wx4f4bc4dec97d474b"
	demoSessionKey = "tiihtNczf5v6AKRyjwEUhQ=="
	demoIV         = "r7BXXKkLb8qrSNn05n0qiA=="
	demoData       = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
	demoPlain      = `{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}`

	phoneAppID      = "wx0000000000000000"
	phoneSessionKey = "MDEyMzQ1Njc4OWFiY2RlZg=="
	phoneIV         = "ZmVkY2JhOTg3NjU0MzIxMA=="
	phoneData       = "/zKksLWsmvxbw65eoGVnlJgByfhVA3B7OucVR9YfnROXMeht7O4jvVTLC1qQtIadUy968xbYGyl5DVVqCqfSa/eI3sT08QkpS/hFcLxHLqPVRUBMYmEZWI8/yOPwMCIkZAlNcgUXWR+8anDzPWXCKNsMEsDm6f5q9/GxtUsISMv+/4FHskjqbYwymm/d0tP2ZKHVw+wUE1M/zk5T1X4tmQ=="
	phonePlain      = `{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":"86","watermark":{"timestamp":1700000000,"appid":"wx0000000000000000"}}`
)

func client(t testing.TB, appID string) *wxapi.Client {
	t.Helper()
	c, err := wxapi.New(wxapi.Config{AppID: appID, Secret: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDecryptUserDataVectors(t *testing.T) {
	tests := []struct{ name, appID, key, data, iv, want string }{
		{"official demo", demoAppID, demoSessionKey, demoData, demoIV, demoPlain},
		{"phone", phoneAppID, phoneSessionKey, phoneData, phoneIV, phonePlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client(t, tt.appID).DecryptUserData(tt.key, tt.data, tt.iv)
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v", got, err)
			}
			// The same data for another app fails the watermark check.
			if _, err := client(t, "wxsomeoneelse").DecryptUserData(tt.key, tt.data, tt.iv); !errors.Is(err, wxapi.ErrBadData) {
				t.Fatalf("other app: %v", err)
			}
		})
	}
}

func TestDecryptUserDataRejects(t *testing.T) {
	c := client(t, demoAppID)
	raw, _ := base64.StdEncoding.DecodeString(demoData)
	flipped := append([]byte{}, raw...)
	flipped[len(flipped)-1] ^= 1
	tests := []struct{ name, key, data, iv string }{
		{"stale session key", phoneSessionKey, demoData, demoIV},
		{"wrong iv", demoSessionKey, demoData, phoneIV},
		{"key not base64", "not base64!", demoData, demoIV},
		{"key 24 bytes", base64.StdEncoding.EncodeToString(make([]byte, 24)), demoData, demoIV},
		{"iv short", demoSessionKey, demoData, base64.StdEncoding.EncodeToString(make([]byte, 8))},
		{"data not whole blocks", demoSessionKey, base64.StdEncoding.EncodeToString(raw[:len(raw)-3]), demoIV},
		{"data empty", demoSessionKey, "", demoIV},
		{"data url-mangled", demoSessionKey, "CiyLU1Aw2Kjv rjMdj8YK", demoIV},
		{"last block flipped", demoSessionKey, base64.StdEncoding.EncodeToString(flipped), demoIV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out, err := c.DecryptUserData(tt.key, tt.data, tt.iv); !errors.Is(err, wxapi.ErrBadData) || out != nil {
				t.Fatalf("got %q, %v", out, err)
			}
		})
	}
}

// The fake's encryption reproduces the phone vector byte for byte, and what
// it encrypts for a user the client decrypts with that user's session key.
func TestFakeEncryptionMatchesClient(t *testing.T) {
	iv, _ := base64.StdEncoding.DecodeString(phoneIV)
	data, ivOut, err := wxfake.EncryptCBC(phoneSessionKey, []byte(phonePlain), iv)
	if err != nil || data != phoneData || ivOut != phoneIV {
		t.Fatalf("EncryptCBC = %s, %s, %v", data, ivOut, err)
	}

	e := setup(t, nil)
	ctx := t.Context()
	plain := `{"nickName":"Band","watermark":{"timestamp":1700000000,"appid":"` + e.fake.AppID() + `"}}`
	enc, ivb, err := e.fake.EncryptUserData(ctx, "oEnc", []byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := e.fake.MintCode(ctx, "oEnc", "")
	s, err := e.cl.Code2Session(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.cl.DecryptUserData(s.SessionKey, enc, ivb); err != nil || string(got) != plain {
		t.Fatalf("decrypted %s, %v", got, err)
	}
	if _, err := e.fake.RotateSessionKey(ctx, "oEnc"); err != nil {
		t.Fatal(err)
	}
	newKey, _ := e.fake.SessionKey(ctx, "oEnc")
	if _, err := e.cl.DecryptUserData(newKey, enc, ivb); !errors.Is(err, wxapi.ErrBadData) {
		t.Fatalf("after rotation: %v", err)
	}
}

func TestVerifyRawData(t *testing.T) {
	const (
		raw = `{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`
		key = "HyVFkGl5F5OQWJZZaNzBBg=="
		sig = "75e81ceda165f4ffa64f4068af58c64b8f54b88c"
	)
	if err := wxapi.VerifyRawData(raw, sig, key); err != nil {
		t.Fatalf("official vector: %v", err)
	}
	for name, args := range map[string][3]string{
		"re-serialised raw data": {raw[:len(raw)-1] + " }", sig, key},
		"other session key":      {raw, sig, demoSessionKey},
		"truncated signature":    {raw, sig[:39], key},
		"empty signature":        {raw, "", key},
	} {
		if err := wxapi.VerifyRawData(args[0], args[1], args[2]); !errors.Is(err, wxapi.ErrBadData) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
