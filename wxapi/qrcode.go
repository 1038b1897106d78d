package wxapi

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
)

type unlimitedQRRequest struct {
	Scene      string `json:"scene"`
	Page       string `json:"page,omitempty"`
	CheckPath  bool   `json:"check_path"`
	EnvVersion string `json:"env_version,omitempty"`
	Width      int    `json:"width,omitempty"`
}

// Image types UnlimitedQRCode returns.
const (
	ContentTypePNG  = "image/png"
	ContentTypeJPEG = "image/jpeg"
)

// UnlimitedQRCode calls getwxacodeunlimit and returns the image and its real
// type, sniffed from the bytes (WeChat labels PNGs image/jpeg). An empty page
// means the app's home page, an empty envVersion "release", width 0 WeChat's
// default (430). A JSON answer is an error, never an image. Errors: *Error
// from WeChat (40169 and 40129 bad scene, 41030 bad page, 40097 bad
// argument, 45009 ErrDailyQuota for the per-minute limit), ErrTokenInvalid,
// ErrSystemBusy/ErrUnavailable (also for an answer that is neither JSON, PNG
// nor JPEG).
func (c *Client) UnlimitedQRCode(ctx context.Context, scene, page, envVersion string, checkPath bool, width int) (data []byte, contentType string, err error) {
	body := unlimitedQRRequest{Scene: scene, Page: page, CheckPath: checkPath, EnvVersion: envVersion, Width: width}
	err = c.withToken(ctx, func(token string) error {
		a, err := c.roundTrip(ctx, request{
			api: "getwxacodeunlimit", method: "POST", path: "/wxa/getwxacodeunlimit",
			query: url.Values{"access_token": {token}}, body: body,
		})
		if err != nil {
			return err
		}
		if looksJSON(a.body, a.contentType) {
			// roundTrip turns errcode answers into errors; a JSON body that
			// is "ok" is still no image.
			return fmt.Errorf("wxapi: getwxacodeunlimit: JSON answer without an image: %w", ErrUnavailable)
		}
		ct := SniffImage(a.body)
		if ct == "" {
			return fmt.Errorf("wxapi: getwxacodeunlimit: answer is neither PNG nor JPEG (content type %q, %d bytes): %w",
				a.contentType, len(a.body), ErrUnavailable)
		}
		data, contentType = a.body, ct
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return data, contentType, nil
}

// SniffImage returns ContentTypePNG or ContentTypeJPEG from the magic bytes,
// "" for anything else.
func SniffImage(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return ContentTypePNG
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return ContentTypeJPEG
	}
	return ""
}
