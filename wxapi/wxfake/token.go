package wxfake

// Access tokens: /cgi-bin/token, /cgi-bin/stable_token, and the
// access_token check of every API that needs one.

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// credentials checks appid/secret as the token and login endpoints do.
func (f *Fake) credentials(appID, secret string) int {
	switch {
	case appID == "":
		return 41002
	case appID != f.appID:
		return 40013
	case secret == "":
		return 41004
	case secret != f.secret:
		return 40125
	}
	return 0
}

func (f *Fake) classicToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("grant_type") != "client_credential" {
		writeErr(w, 40002)
		return
	}
	if c := f.credentials(q.Get("appid"), q.Get("secret")); c != 0 {
		writeErr(w, c)
		return
	}
	now := f.now().UnixMilli()
	res, err := classicScript.Run(r.Context(), f.rdb, []string{f.key("classic"), f.key("epoch")},
		now, newToken(), tokenTTL.Milliseconds(), f.day(), f.key("tok")+":", classicGrace.Milliseconds(), tokenRecordTTL.Milliseconds()).Slice()
	f.tokenAnswer(w, res, err)
}

func (f *Fake) stableToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, 43002)
		return
	}
	m, ok := readBody(w, r, 47001)
	if !ok {
		return
	}
	if gt, _ := str(m, "grant_type"); gt != "client_credential" {
		writeErr(w, 40002)
		return
	}
	appID, _ := str(m, "appid")
	secret, _ := str(m, "secret")
	if c := f.credentials(appID, secret); c != 0 {
		writeErr(w, c)
		return
	}
	force := "0"
	if boolean(m, "force_refresh", false) {
		force = "1"
	}
	now := f.now().UnixMilli()
	res, err := stableScript.Run(r.Context(), f.rdb, []string{f.key("stable"), f.key("epoch")},
		now, force, newToken(), tokenTTL.Milliseconds(), f.day(), f.key("tok")+":", rotateWindow.Milliseconds(), tokenRecordTTL.Milliseconds()).Slice()
	f.tokenAnswer(w, res, err)
}

// tokenAnswer turns a token script's {errcode, token, expires_in_ms} into
// the answer.
func (f *Fake) tokenAnswer(w http.ResponseWriter, res []any, err error) {
	if err != nil || len(res) < 1 {
		writeErr(w, -1)
		return
	}
	if code, _ := res[0].(int64); code != 0 {
		writeErr(w, int(code))
		return
	}
	tok, _ := res[1].(string)
	ms, _ := res[2].(int64)
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": ms / 1000})
}

func (f *Fake) day() string { return f.now().UTC().Format("20060102") }

// newToken looks like WeChat's: a 2-digit prefix, "_", ~130 url-safe chars.
func newToken() string { return "86_" + randString(134, urlSafe) }

// checkToken validates the access_token query parameter: missing 41001,
// malformed 40014, past its expiry (or minted before ExpireTokens) 42001,
// unknown or superseded 40001.
func (f *Fake) checkToken(r *http.Request) (int, error) {
	tok := r.URL.Query().Get("access_token")
	switch {
	case tok == "":
		return 41001, nil
	case !tokenRE.MatchString(tok):
		return 40014, nil
	}
	ctx := r.Context()
	v, err := f.rdb.HMGet(ctx, f.key("tok", tok), "exp", "epoch", "until").Result()
	if err != nil {
		return 0, err
	}
	epoch, err := f.rdb.Get(ctx, f.key("epoch")).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	num := func(x any) (int64, bool) {
		s, _ := x.(string)
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	exp, known := num(v[0])
	if !known {
		return 40001, nil
	}
	now := f.now().UnixMilli()
	if e, _ := num(v[1]); e < epoch || now >= exp {
		return 42001, nil
	}
	if until, ok := num(v[2]); ok && now >= until {
		return 40001, nil
	}
	return 0, nil
}

// authorizedPost is the start of every API called with an access token:
// POST only (43002), a JSON body (bad otherwise), a valid token. ok is
// false when the answer has been written.
func (f *Fake) authorizedPost(w http.ResponseWriter, r *http.Request, bad int) (map[string]json.RawMessage, bool) {
	if r.Method != http.MethodPost {
		writeErr(w, 43002)
		return nil, false
	}
	m, ok := readBody(w, r, bad)
	if !ok || !f.authorized(w, r) {
		return nil, false
	}
	return m, true
}

// authorized writes the token error, if any, and reports whether to go on.
func (f *Fake) authorized(w http.ResponseWriter, r *http.Request) bool {
	code, err := f.checkToken(r)
	if err != nil {
		writeErr(w, -1)
		return false
	}
	if code != 0 {
		writeErr(w, code)
		return false
	}
	return true
}
