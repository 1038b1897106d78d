package wxfake

// What every endpoint shares: WeChat's error codes and messages, the
// routes, fault injection and call counting, and WeChat's JSON answers.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"time"
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
	40165: "invalid weapp pagepath",
	40169: "invalid length for scene, or the data is not json string",
	40212: "invalid query",
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
		return inputError{fmt.Sprintf("wxfake: openid %q is not 1-64 of [0-9A-Za-z_-]", openID)}
	}
	return nil
}

func (f *Fake) routes() {
	m := http.NewServeMux()
	m.HandleFunc("/sns/jscode2session", f.endpoint(APICode2Session, f.code2Session))
	m.HandleFunc("/cgi-bin/token", f.endpoint(APIToken, f.classicToken))
	m.HandleFunc("/cgi-bin/stable_token", f.endpoint(APIStableToken, f.stableToken))
	m.HandleFunc("/wxa/getwxacodeunlimit", f.endpoint(APIQRCode, f.unlimitedQRCode))
	m.HandleFunc("/wxa/generate_urllink", f.endpoint(APIURLLink, f.generateURLLink))
	m.HandleFunc("GET /urllink/{id}", f.endpoint(APIOpenURLLink, f.openURLLink))
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
		// WeChat does the work of a request it got however late it answers,
		// or if it never does: a slow or hung call still spends its
		// single-use code (wechat-api.md), and a client that gives up and
		// sends the code again gets 40163.
		var done *httptest.ResponseRecorder
		if fault.Errcode == 0 && fault.Body == "" {
			done = httptest.NewRecorder()
			h(done, r)
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
			for k, v := range done.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(done.Code)
			_, _ = w.Write(done.Body.Bytes())
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
