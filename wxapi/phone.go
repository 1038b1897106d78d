package wxapi

import (
	"context"
	"fmt"
	"net/url"
)

// PhoneInfo is the user's phone number. PhoneNumber carries the country
// prefix for numbers outside mainland China; PurePhoneNumber never does.
type PhoneInfo struct {
	PhoneNumber, PurePhoneNumber, CountryCode string
}

type phoneAnswer struct {
	PhoneInfo struct {
		PhoneNumber     string        `json:"phoneNumber"`
		PurePhoneNumber string        `json:"purePhoneNumber"`
		CountryCode     lenientString `json:"countryCode"`
		Watermark       watermark     `json:"watermark"`
	} `json:"phone_info"`
}

type watermark struct {
	AppID     string     `json:"appid"`
	Timestamp lenientInt `json:"timestamp"`
}

// PhoneNumber exchanges a getPhoneNumber button code (not a wx.login code)
// for the user's phone number. Errors: ErrInvalidCode (unknown, expired or
// used), ErrMinuteQuota, ErrTokenInvalid, ErrSystemBusy/ErrUnavailable,
// ErrBadData when the watermark names another app, other *Error (40013: the
// code belongs to another app).
func (c *Client) PhoneNumber(ctx context.Context, code string) (*PhoneInfo, error) {
	if code == "" {
		return nil, fmt.Errorf("wxapi: getuserphonenumber: empty code: %w", ErrInvalidCode)
	}
	var a phoneAnswer
	err := c.withToken(ctx, func(token string) error {
		return c.callJSON(ctx, request{
			api: "getuserphonenumber", method: "POST", path: "/wxa/business/getuserphonenumber", singleUse: true,
			query: url.Values{"access_token": {token}}, body: map[string]string{"code": code},
		}, &a)
	})
	if err != nil {
		return nil, err
	}
	p := a.PhoneInfo
	if p.Watermark.AppID != c.appID {
		return nil, fmt.Errorf("wxapi: getuserphonenumber: watermark names another app: %w", ErrBadData)
	}
	if p.PhoneNumber == "" && p.PurePhoneNumber == "" {
		return nil, fmt.Errorf("wxapi: getuserphonenumber: answer without a phone number: %w", ErrUnavailable)
	}
	return &PhoneInfo{PhoneNumber: p.PhoneNumber, PurePhoneNumber: p.PurePhoneNumber, CountryCode: string(p.CountryCode)}, nil
}
