package wxapi

import (
	"context"
	"net/url"
)

// Content check verdicts (SecCheckResult.Suggest).
const (
	SuggestPass   = "pass"
	SuggestReview = "review"
	SuggestRisky  = "risky"
)

// SecCheckResult is msg_sec_check's verdict. Label is WeChat's category
// (100 normal, 20001 politics, 20002 porn, ...).
type SecCheckResult struct {
	Suggest string
	Label   int
	TraceID string
}

type secCheckAnswer struct {
	Result struct {
		Suggest string     `json:"suggest"`
		Label   lenientInt `json:"label"` // a number in the docs, a string in real pushes
	} `json:"result"`
	TraceID string `json:"trace_id"`
}

// MsgSecCheck runs WeChat's text content check (v2) on content written by
// openID (who must have used the mini-program in the last 2 hours); scene is
// 1 profile, 2 comment, 3 forum, 4 social log. v2 answers errcode 0 even for
// bad content: decide on Suggest. Errors: *Error (40003 openid, 40129 scene,
// 61010 user not recently active, 47001), ErrTokenInvalid,
// ErrSystemBusy/ErrUnavailable.
func (c *Client) MsgSecCheck(ctx context.Context, openID, content string, scene int) (*SecCheckResult, error) {
	var a secCheckAnswer
	err := c.withToken(ctx, func(token string) error {
		return c.callJSON(ctx, request{
			api: "msg_sec_check", method: "POST", path: "/wxa/msg_sec_check",
			query: url.Values{"access_token": {token}},
			body:  map[string]any{"content": content, "version": 2, "scene": scene, "openid": openID},
		}, &a)
	})
	if err != nil {
		return nil, err
	}
	return &SecCheckResult{Suggest: a.Result.Suggest, Label: int(a.Result.Label), TraceID: a.TraceID}, nil
}
