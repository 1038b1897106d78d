package wxfake

// Login: jscode2session (wx.login codes, single use) and checksession.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// spend uses up a single-use code of a kind, answering the WeChat error
// itself when it cannot: an empty or unknown code is 40029, a used one
// 40163 (as consume decides), a store failure -1.
func (f *Fake) spend(w http.ResponseWriter, r *http.Request, kind, code, api string) (openID string, rec map[string]string, ok bool) {
	if code == "" {
		writeErr(w, 40029)
		return "", nil, false
	}
	openID, rec, errcode, err := f.consume(r, kind, code, api)
	if err != nil {
		writeErr(w, -1)
		return "", nil, false
	}
	if errcode != 0 {
		writeErr(w, errcode)
		return "", nil, false
	}
	return openID, rec, true
}

func (f *Fake) code2Session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if c := f.credentials(q.Get("appid"), q.Get("secret")); c != 0 {
		writeErr(w, c)
		return
	}
	if q.Get("grant_type") != "authorization_code" {
		writeErr(w, 40002)
		return
	}
	openID, _, ok := f.spend(w, r, "code", q.Get("js_code"), APICode2Session)
	if !ok {
		return
	}
	sk, err := f.SessionKey(r.Context(), openID)
	if err != nil {
		writeErr(w, -1)
		return
	}
	// msg_sec_check wants users active in the last 2 hours.
	f.rdb.Set(r.Context(), f.key("active", openID), f.now().UnixMilli(), activeWindow+time.Hour)
	writeJSON(w, map[string]string{"openid": openID, "session_key": sk, "unionid": unionID(openID)})
}

// consume spends a single-use code of kind ("code" or "pcode"): unknown or
// older than 5 minutes 40029, spent 40163 (phone codes: 40029), over the
// user's minute quota 45011 (the code is not spent then).
func (f *Fake) consume(r *http.Request, kind, code, api string) (openID string, rec map[string]string, errcode int, err error) {
	ctx := r.Context()
	k := f.key(kind, code)
	rec, err = f.rdb.HGetAll(ctx, k).Result()
	if err != nil {
		return "", nil, 0, err
	}
	issued, perr := strconv.ParseInt(rec["issued"], 10, 64)
	if rec["openid"] == "" || perr != nil {
		return "", nil, 40029, nil
	}
	now := f.now()
	if now.Sub(time.UnixMilli(issued)) >= codeTTL {
		return "", nil, 40029, nil
	}
	usedCode := 40163
	if kind == "pcode" {
		usedCode = 40029
	}
	if rec["used"] != "" && rec["used"] != "0" {
		return "", nil, usedCode, nil
	}
	minute := strconv.FormatInt(now.Unix()/60, 10)
	rk := f.key("rl", api, rec["openid"], minute)
	n, err := f.rdb.Incr(ctx, rk).Result()
	if err != nil {
		return "", nil, 0, err
	}
	f.rdb.Expire(ctx, rk, 2*time.Minute)
	if n > int64(f.opts.UserMinuteQuota) {
		return "", nil, 45011, nil
	}
	used, err := f.rdb.HIncrBy(ctx, k, "used", 1).Result()
	if err != nil {
		return "", nil, 0, err
	}
	if used > 1 {
		return "", nil, usedCode, nil
	}
	return rec["openid"], rec, 0, nil
}

// unionID is stable per user, as if the app were bound to an Open Platform
// account.
func unionID(openID string) string {
	sum := sha256.Sum256([]byte("unionid:" + openID))
	return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
}

func (f *Fake) checkSession(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	openID := q.Get("openid")
	if checkOpenID(openID) != nil {
		writeErr(w, 40003)
		return
	}
	if q.Get("sig_method") != "hmac_sha256" {
		writeErr(w, 87008)
		return
	}
	sk, err := f.rdb.Get(r.Context(), f.key("sk", openID)).Result()
	if errors.Is(err, redis.Nil) {
		writeErr(w, 87007)
		return
	} else if err != nil {
		writeErr(w, -1)
		return
	}
	m := hmac.New(sha256.New, []byte(sk)) // keyed with the base64 text, not the decoded bytes
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(q.Get("signature"))) {
		writeErr(w, 87009)
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
}
