package wxfake

// Mini-program codes: getwxacodeunlimit.

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
)

func (f *Fake) unlimitedQRCode(w http.ResponseWriter, r *http.Request) {
	m, ok := f.authorizedPost(w, r, 40169)
	if !ok {
		return
	}
	minute := strconv.FormatInt(f.now().Unix()/60, 10)
	qk := f.key("qrrl", minute)
	n, err := f.rdb.Incr(r.Context(), qk).Result()
	if err != nil {
		writeErr(w, -1)
		return
	}
	f.rdb.Expire(r.Context(), qk, 2*time.Minute)
	if n > int64(f.opts.QRMinuteQuota) {
		writeErr(w, 45009)
		return
	}
	scene, ok := str(m, "scene")
	if !ok || scene == "" || len([]rune(scene)) > 32 {
		writeErr(w, 40169)
		return
	}
	if !sceneRE.MatchString(scene) {
		writeErr(w, 40129)
		return
	}
	page, _ := str(m, "page")
	switch {
	case strings.Contains(page, "scancode_time"):
		writeErr(w, 85096)
		return
	case strings.HasPrefix(page, "/") || strings.Contains(page, "?"):
		writeErr(w, 41030)
		return
	case page != "" && boolean(m, "check_path", true) && !slices.Contains(f.opts.Pages, page):
		writeErr(w, 41030)
		return
	}
	if _, present := m["env_version"]; present {
		if env, _ := str(m, "env_version"); !slices.Contains(envValues, env) {
			writeErr(w, 40097)
			return
		}
	}
	// WeChat documents 280-1280 px without saying what happens outside it;
	// the fake clamps.
	width := min(max(integer(m, "width", 430), 280), 1280)
	png, err := qrcode.Encode(f.opts.QRContent(scene), qrcode.Medium, width)
	if err != nil {
		writeErr(w, -1)
		return
	}
	// WeChat labels its PNG as JPEG; clients must sniff.
	w.Header().Set("Content-Type", "image/jpeg")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(png)
}
