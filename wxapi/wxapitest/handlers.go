package wxapitest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/skip2/go-qrcode"
)

const (
	activeWindow = 2 * time.Hour // msg_sec_check: the openid must have used the app this recently
	codeTTL      = 5 * time.Minute
	tokenTTL     = 7200 * time.Second
	rotateWindow = 5 * time.Minute // stable_token hands out a new token in the old one's last 5 minutes
	classicGrace = 5 * time.Minute // a superseded /cgi-bin/token token keeps working this long
	jsonType     = "application/json; encoding=utf-8"
)

// errmsgs are WeChat's messages, without the rid suffix.
var errmsgs = map[int]string{
	-1:    "system error",
	40001: "invalid credential, access_token is invalid or not latest",
	40002: "invalid grant_type",
	40003: "invalid openid",
	40013: "invalid appid",
	40014: "invalid access_token",
	40029: "invalid code",
	40097: "invalid args",
	40125: "invalid appsecret",
	40129: "invalid scene",
	40163: "code been used",
	40169: "invalid length for scene, or the data is not json string",
	40226: "code blocked",
	41001: "access_token missing",
	41002: "appid missing",
	41004: "appsecret missing",
	41030: "invalid page",
	42001: "access_token expired",
	43002: "require POST method",
	44002: "empty post data",
	45009: "reach max api daily quota limit",
	45011: "api minute-quota reach limit mustslower retry next minute",
	47001: "data format error",
	61010: "code is expired",
	85096: "not allow include scancode_time field",
	87007: "session_key is not existd or expired",
	87008: "invalid sig_method",
	87009: "invalid signature",
}

var (
	sceneRE   = regexp.MustCompile(`^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]*$`)
	openIDRE  = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
	phoneRE   = regexp.MustCompile(`^(\+[0-9]{1,4}[ -])?[0-9]{4,15}$`)
	tokenRE   = regexp.MustCompile(`^[0-9A-Za-z_-]{16,512}$`)
	envValues = []string{"release", "trial", "develop"}
)

func checkOpenID(openID string) error {
	if !openIDRE.MatchString(openID) {
		return inputError{fmt.Sprintf("wxapitest: openid %q is not 1-64 of [0-9A-Za-z_-]", openID)}
	}
	return nil
}

func (f *Fake) routes() {
	m := http.NewServeMux()
	m.HandleFunc("/sns/jscode2session", f.endpoint(APICode2Session, f.code2Session))
	m.HandleFunc("/cgi-bin/token", f.endpoint(APIToken, f.classicToken))
	m.HandleFunc("/cgi-bin/stable_token", f.endpoint(APIStableToken, f.stableToken))
	m.HandleFunc("/wxa/getwxacodeunlimit", f.endpoint(APIQRCode, f.unlimitedQRCode))
	m.HandleFunc("/wxa/business/getuserphonenumber", f.endpoint(APIPhoneNumber, f.phoneNumber))
	m.HandleFunc("/wxa/checksession", f.endpoint(APICheckSession, f.checkSession))
	m.HandleFunc("/wxa/msg_sec_check", f.endpoint(APIMsgSecCheck, f.msgSecCheck))
	m.HandleFunc("POST /login", f.endpoint(APILogin, f.hookLogin))
	m.HandleFunc("POST /phonecode", f.endpoint(APIPhoneCode, f.hookPhoneCode))
	f.mux = m
}

// endpoint counts the call and applies an injected fault before h.
func (f *Fake) endpoint(api string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fault := f.arrive(api)
		if fault == nil {
			h(w, r)
			return
		}
		if fault.Delay > 0 {
			t := time.NewTimer(fault.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-f.closed:
				t.Stop()
				return
			}
		}
		switch {
		case fault.Hang:
			select {
			case <-r.Context().Done():
			case <-f.closed:
			}
		case fault.Errcode != 0:
			writeErr(w, fault.Errcode)
		case fault.Body != "":
			ct := fault.ContentType
			if ct == "" {
				ct = jsonType
			}
			w.Header().Set("Content-Type", ct)
			_, _ = io.WriteString(w, fault.Body)
		default:
			h(w, r)
		}
	}
}

// writeErr answers like WeChat: HTTP 200, JSON, errmsg + " rid: ...".
func writeErr(w http.ResponseWriter, code int) {
	msg, ok := errmsgs[code]
	if !ok {
		msg = "error"
	}
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg + " rid: " + rid()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", jsonType)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

func rid() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:16] + "-" + h[16:]
}

// readBody reads a POST body as a JSON object. ok is false when the answer
// (errcode bad) has been written already.
func readBody(w http.ResponseWriter, r *http.Request, bad int) (map[string]json.RawMessage, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeErr(w, bad)
		return nil, false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		writeErr(w, 44002)
		return nil, false
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	var m map[string]json.RawMessage
	if strings.Contains(ct, "form") || json.Unmarshal(b, &m) != nil || m == nil {
		writeErr(w, bad)
		return nil, false
	}
	if _, ok := m["access_token"]; ok {
		// The token belongs in the query; WeChat rejects it in the body.
		writeErr(w, 47001)
		return nil, false
	}
	return m, true
}

func str(m map[string]json.RawMessage, k string) (string, bool) {
	raw, ok := m[k]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// boolean reads a JSON bool (or "true"/"false"), def when absent.
func boolean(m map[string]json.RawMessage, k string, def bool) bool {
	raw, ok := m[k]
	if !ok {
		return def
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if v, err := strconv.ParseBool(s); err == nil {
			return v
		}
	}
	return def
}

func integer(m map[string]json.RawMessage, k string, def int) int {
	raw, ok := m[k]
	if !ok {
		return def
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return def
	}
	v, err := n.Int64()
	if err != nil {
		return def
	}
	return int(v)
}

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

func (f *Fake) unlimitedQRCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, 43002)
		return
	}
	m, ok := readBody(w, r, 40169)
	if !ok || !f.authorized(w, r) {
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

func (f *Fake) phoneNumber(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, 43002)
		return
	}
	m, ok := readBody(w, r, 47001)
	if !ok || !f.authorized(w, r) {
		return
	}
	code, _ := str(m, "code")
	_, rec, ok := f.spend(w, r, "pcode", code, APIPhoneNumber)
	if !ok {
		return
	}
	phone, cc, pure := rec["phone"], "86", rec["phone"]
	if strings.HasPrefix(phone, "+") {
		i := strings.IndexAny(phone, " -")
		cc, pure = phone[1:i], phone[i+1:]
		phone = "+" + cc + pure
	}
	issued, _ := strconv.ParseInt(rec["issued"], 10, 64)
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok",
		"phone_info": map[string]any{
			"phoneNumber": phone, "purePhoneNumber": pure, "countryCode": cc,
			"watermark": map[string]any{"timestamp": issued / 1000, "appid": f.appID},
		},
	})
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

// Test hooks: plain JSON with HTTP statuses (they are not WeChat APIs).
// Dev mode serves them as part of scanlogin's API, so their errors take the
// same shape as the API's, and an unreachable store asks for a retry.

func hookError(w http.ResponseWriter, status int, msg string) {
	code := "invalid_request"
	if status == http.StatusServiceUnavailable {
		code = "unavailable"
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *Fake) hookLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OpenID   string `json:"openid"`
		Nickname string `json:"nickname"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		hookError(w, http.StatusBadRequest, "body must be JSON {\"openid\",\"nickname\"?}")
		return
	}
	if len([]rune(in.Nickname)) > 64 {
		hookError(w, http.StatusBadRequest, "nickname longer than 64 characters")
		return
	}
	code, err := f.MintCode(r.Context(), in.OpenID, in.Nickname)
	f.hookAnswer(w, code, err)
}

func (f *Fake) hookPhoneCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OpenID string `json:"openid"`
		Phone  string `json:"phone_number"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		hookError(w, http.StatusBadRequest, "body must be JSON {\"openid\",\"phone_number\"}")
		return
	}
	code, err := f.MintPhoneCode(r.Context(), in.OpenID, in.Phone)
	f.hookAnswer(w, code, err)
}

func (f *Fake) hookAnswer(w http.ResponseWriter, code string, err error) {
	var ie inputError
	switch {
	case errors.As(err, &ie):
		hookError(w, http.StatusBadRequest, ie.Error())
	case err != nil:
		hookError(w, http.StatusServiceUnavailable, "store unavailable")
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"code": code})
	}
}

// inputError is a caller mistake in a hook or a Mint method.
type inputError struct{ msg string }

func (e inputError) Error() string { return e.msg }

// msgSecCheck is the v2 text check: content containing one of
// Options.BlockedWords is "risky" (label 21000, other), anything else "pass".
func (f *Fake) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, 43002)
		return
	}
	m, ok := readBody(w, r, 47001)
	if !ok || !f.authorized(w, r) {
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
