package wxfake

// Content security: msg_sec_check (v2).

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// msgSecCheck is the v2 text check: content containing one of
// Options.BlockedWords is "risky" (label 21000, other), anything else "pass".
func (f *Fake) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	m, ok := f.authorizedPost(w, r, 47001)
	if !ok {
		return
	}
	content, _ := str(m, "content")
	openID, _ := str(m, "openid")
	scene := integer(m, "scene", 0)
	switch {
	case integer(m, "version", 1) != 2:
		writeErr(w, 40097) // v1 is retired
		return
	case content == "" || len([]rune(content)) > 2500:
		writeErr(w, 47001)
		return
	case scene < 1 || scene > 4:
		writeErr(w, 40129)
		return
	case checkOpenID(openID) != nil:
		writeErr(w, 40003)
		return
	}
	last, err := f.rdb.Get(r.Context(), f.key("active", openID)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		writeErr(w, -1)
		return
	}
	if err != nil || f.now().Sub(time.UnixMilli(last)) >= activeWindow {
		writeErr(w, 61010)
		return
	}
	suggest, label := "pass", 100
	lower := strings.ToLower(content)
	for _, word := range f.opts.BlockedWords {
		if word != "" && strings.Contains(lower, strings.ToLower(word)) {
			suggest, label = "risky", 21000
			break
		}
	}
	prob := 90
	if suggest == "pass" {
		prob = 0
	}
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok",
		"result":   map[string]any{"suggest": suggest, "label": label},
		"detail":   []any{map[string]any{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": prob}},
		"trace_id": rid(),
	})
}
