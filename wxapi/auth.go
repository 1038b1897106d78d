package wxapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
)

// Session is what code2Session answers. SessionKey is for the server only:
// it decrypts open data and must never reach a client or a log.
type Session struct {
	OpenID, UnionID, SessionKey string
}

type sessionAnswer struct {
	OpenID     string `json:"openid"`
	UnionID    string `json:"unionid"`
	SessionKey string `json:"session_key"`
}

// Code2Session exchanges a wx.login code for the user's OpenID, UnionID (when
// the app is bound to an Open Platform account) and session key. Errors:
// ErrInvalidCode (unknown, expired, empty), ErrCodeUsed, ErrMinuteQuota,
// ErrRiskyUser, ErrSystemBusy/ErrUnavailable, other *Error.
func (c *Client) Code2Session(ctx context.Context, code string) (*Session, error) {
	if code == "" {
		return nil, fmt.Errorf("wxapi: jscode2session: empty code: %w", ErrInvalidCode)
	}
	var a sessionAnswer
	err := c.callJSON(ctx, request{
		api: "jscode2session", method: "GET", path: "/sns/jscode2session", singleUse: true,
		query: url.Values{"appid": {c.appID}, "secret": {c.secret}, "js_code": {code}, "grant_type": {"authorization_code"}},
	}, &a)
	if err != nil {
		return nil, err
	}
	if a.OpenID == "" || a.SessionKey == "" {
		return nil, fmt.Errorf("wxapi: jscode2session: answer without openid or session_key: %w", ErrUnavailable)
	}
	return &Session{OpenID: a.OpenID, UnionID: a.UnionID, SessionKey: a.SessionKey}, nil
}

// CheckSessionSignature is the checksession signature: lowercase hex of
// HMAC-SHA256 keyed with the session key's base64 text (not its decoded
// bytes) over the empty message.
func CheckSessionSignature(sessionKey string) string {
	m := hmac.New(sha256.New, []byte(sessionKey))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckSessionKey asks WeChat whether sessionKey is still openID's current
// session key. Errors: ErrInvalidSignature (87009: stale or wrong key),
// ErrTokenInvalid (only if the re-fetched token is rejected too),
// ErrSystemBusy/ErrUnavailable, other *Error.
func (c *Client) CheckSessionKey(ctx context.Context, openID, sessionKey string) error {
	return c.withToken(ctx, func(token string) error {
		return c.callJSON(ctx, request{
			api: "checksession", method: "GET", path: "/wxa/checksession",
			query: url.Values{
				"access_token": {token}, "openid": {openID},
				"signature": {CheckSessionSignature(sessionKey)}, "sig_method": {"hmac_sha256"},
			},
		}, nil)
	})
}
