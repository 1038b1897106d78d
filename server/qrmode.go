package server

// QR modes (README.md, "QR modes"). In link mode the code is an ordinary QR
// code of QRLinkPrefix + scene, made here in microseconds with no WeChat
// call and no quota, for a mini-program that registered the prefix under
// 扫普通链接二维码打开小程序. WeChat then opens the confirm page with q (the
// URL) and scancode_time; any other camera opens the URL in a browser, which
// lands on our landing page (landing.go).

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/skip2/go-qrcode"
)

// QR modes.
const (
	QRModeWxacode = "wxacode"
	QRModeLink    = "link"
)

// Link-mode code: Medium error correction (15%) keeps the symbol at version
// 4-5 (33-37 modules) for a ~60-character URL, so each module is as large as
// possible on screen: a phone camera at 30 cm reads a 232 px code of 45
// modules (with the quiet zone) at about 5 px, 1.3 mm, per module, far above
// what it needs, and a screen code suffers glare and moiré, not the
// dirt and tears the higher levels are for. 8 px per module makes the PNG
// crisp at any size the page scales it to (360 px for version 5).
const (
	linkQRLevel    = qrcode.Medium
	linkQRModulePx = 8
)

// CheckLinkPrefix validates SCANLOGIN_QR_LINK_PREFIX: an https URL ending in
// "/" (the scene is the last path segment) or "=" (the scene is a query
// value), without a fragment, whose path leaves the API's own paths alone.
func CheckLinkPrefix(prefix string) error {
	u, err := url.Parse(prefix)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil:
		return fmt.Errorf("want an https:// URL such as https://login.example.com/s/, got %q", prefix)
	case u.Fragment != "" || strings.Contains(prefix, "#"):
		return fmt.Errorf("a fragment never reaches WeChat or the server; got %q", prefix)
	case !strings.HasSuffix(prefix, "/") && !strings.HasSuffix(prefix, "="):
		return fmt.Errorf("want it to end with / or = (the scene follows it), got %q", prefix)
	case strings.HasSuffix(prefix, "/") && u.RawQuery != "":
		return fmt.Errorf("a prefix ending in / cannot carry a query, got %q", prefix)
	case strings.HasSuffix(prefix, "=") && (u.Path == "" || u.Path == "/"):
		return fmt.Errorf("a prefix ending in = needs a path of its own (the login page is /), e.g. https://login.example.com/l?s=, got %q", prefix)
	}
	for _, p := range []string{"/api/", "/static/", "/dev/", "/.well-known/"} {
		if strings.HasPrefix(u.Path+"/", p) {
			return fmt.Errorf("the path %q is the server's own; choose another such as /s/", u.Path)
		}
	}
	return nil
}

// checkQROptions: a known mode, and in link mode a valid prefix.
func checkQROptions(o Options) error {
	switch o.QRMode {
	case "", QRModeWxacode:
	case QRModeLink:
		if err := CheckLinkPrefix(o.QRLinkPrefix); err != nil {
			return fmt.Errorf("server: QRLinkPrefix: %w", err)
		}
	default:
		return fmt.Errorf("server: QRMode: want %q or %q, got %q", QRModeWxacode, QRModeLink, o.QRMode)
	}
	for name := range o.VerifyFiles {
		if !VerifyFileName.MatchString(name) {
			return fmt.Errorf("server: VerifyFiles: %q is not a file name like abc123.txt", name)
		}
	}
	return nil
}

// linkModeImage answers the image of a live scene in link mode.
func (s *Server) linkModeImage(c echo.Context, id string) error {
	sc, err := s.engine.Scene(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if err := refuseFinal(sc); err != nil {
		return err
	}
	png, err := LinkQRCode(s.opts.QRLinkPrefix + id)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "private, max-age=300")
	return c.Blob(http.StatusOK, "image/png", png)
}

// LinkQRCode is the PNG of a link-mode code (also what loadgen measures).
func LinkQRCode(content string) ([]byte, error) {
	q, err := qrcode.New(content, linkQRLevel)
	if err != nil {
		return nil, err
	}
	return q.PNG(-linkQRModulePx)
}

// checkScancodeTime checks the shape of scancode_time (Unix seconds of the
// scan, which WeChat gives a page opened by a plain-link code, and the
// mini-program passes on in the scan body; 0 means "not sent": a
// mini-program code or a URL Link). The scan is not judged by it: expiry
// is judged by the server clock (docs/ARCHITECTURE.md#state-machine), and
// this time comes from the scanning side, whose clock may be minutes off
// ours. A refusal would strand such a phone (every retry sends the same
// time) and guard nothing, for a sender can leave the field out.
func checkScancodeTime(at int64) error {
	if at < 0 {
		return invalidRequest("scancode_time: want Unix seconds")
	}
	return nil
}
