package wxapi

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// URLLinkMaxLife is how far ahead a URL Link may expire: WeChat allows at
// most 30 days since 2022 (README.md, "Open in WeChat").
const URLLinkMaxLife = 30 * 24 * time.Hour

type urlLinkRequest struct {
	Path       string `json:"path"`
	Query      string `json:"query"`
	EnvVersion string `json:"env_version,omitempty"`
	ExpireType int    `json:"expire_type"`
	ExpireTime int64  `json:"expire_time"`
}

type urlLinkAnswer struct {
	URLLink string `json:"url_link"`
}

// GenerateURLLink calls wxa/generate_urllink: a https://wxaurl.cn/... link
// that opens page (no leading slash, no query) with query in the
// mini-program, from a mobile browser or inside WeChat, until expires (at
// most URLLinkMaxLife ahead, rounded up to the second). envVersion ""
// means release; it applies only when the link is opened outside WeChat.
// Errors: *Error from WeChat (40165 page not in the released version,
// 40097 bad arguments, 45009 ErrDailyQuota for the frequency limits; any
// other errcode is an *Error too: log its code), ErrTokenInvalid,
// ErrSystemBusy/ErrUnavailable (also for an answer without a link).
func (c *Client) GenerateURLLink(ctx context.Context, page, query, envVersion string, expires time.Time) (string, error) {
	if strings.HasPrefix(page, "/") || strings.Contains(page, "?") {
		return "", fmt.Errorf("wxapi: generate_urllink: page %q: want a path without a leading slash or query", page)
	}
	body := urlLinkRequest{Path: page, Query: query, EnvVersion: envVersion, ExpireType: 0,
		ExpireTime: expires.Add(time.Second - 1).Truncate(time.Second).Unix()}
	var a urlLinkAnswer
	err := c.withToken(ctx, func(token string) error {
		return c.callJSON(ctx, request{
			api: "generate_urllink", method: "POST", path: "/wxa/generate_urllink",
			query: url.Values{"access_token": {token}}, body: body,
		}, &a)
	})
	if err != nil {
		return "", err
	}
	u, perr := url.Parse(a.URLLink)
	// WeChat's are https; the dev fake's are on the demo's own http URL.
	if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("wxapi: generate_urllink: answer without a link: %w", ErrUnavailable)
	}
	return a.URLLink, nil
}
