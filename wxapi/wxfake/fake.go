package wxfake

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Defaults used when Options leaves them empty.
const (
	DefaultAppID  = "wx00000000fake0000"
	DefaultSecret = "fake-app-secret-0000000000000000"
)

// DefaultPages are the pages of the "published" version checked when
// getwxacodeunlimit runs with check_path true.
var DefaultPages = []string{"pages/index/index", "pages/scan/scan", "pages/profile/profile"}

// DefaultBlockedWords are the words the fake's content check finds risky.
var DefaultBlockedWords = []string{"forbidden-word", "违禁词"}

// Options configures a Fake. Every field is optional.
type Options struct {
	AppID, Secret string                // the one app the fake serves; defaults DefaultAppID, DefaultSecret
	Redis         redis.UniversalClient // keep state here so several fakes agree; nil = in-process
	KeyPrefix     string                // default "sl:wxfake:"
	QRContent     func(scene string) string
	// URLLinkBase prefixes the links generate_urllink answers; default
	// DefaultURLLinkBase. Dev mode points it at the fake's own
	// /urllink/ hook, which opens the link.
	URLLinkBase string
	// OpenURLLink is where the /urllink/{id} hook sends a browser for a
	// link's page and query (dev mode: the phone simulator); nil answers
	// them as JSON.
	OpenURLLink func(page, query string) string
	Pages       []string // for check_path; default DefaultPages
	Now         func() time.Time

	// BlockedWords make msg_sec_check answer "risky" (case-insensitive
	// substring); default DefaultBlockedWords.
	BlockedWords []string

	// Quotas (WeChat's values by default): code exchanges per user per
	// minute (45011) and getwxacodeunlimit calls per minute (45009).
	UserMinuteQuota int // default 100
	QRMinuteQuota   int // default 5000
}

// Fault makes an endpoint misbehave. The first matching request waits Delay
// (if any), then hangs until its context ends (Hang), or answers Errcode (a
// WeChat JSON error), or answers Body with ContentType verbatim; with none of
// these the request then proceeds normally. Times is how many requests the
// fault applies to; 0 means until ClearFaults.
type Fault struct {
	Errcode     int
	Delay       time.Duration
	Hang        bool
	Times       int
	Body        string // raw answer, e.g. malformed JSON or an image
	ContentType string // for Body; default "application/json; encoding=utf-8"
}

// Endpoint names for Inject and Calls.
const (
	APICode2Session = "jscode2session"
	APIStableToken  = "stable_token"
	APIToken        = "token"
	APIQRCode       = "getwxacodeunlimit"
	APIURLLink      = "generate_urllink"
	APIOpenURLLink  = "urllink" // test hook: what tapping a URL Link does
	APIPhoneNumber  = "getuserphonenumber"
	APICheckSession = "checksession"
	APIMsgSecCheck  = "msg_sec_check"
	APILogin        = "login"     // test hook
	APIPhoneCode    = "phonecode" // test hook
)

// Fake is a fake WeChat server; it is an http.Handler serving WeChat's paths
// at its root. Safe for concurrent use.
type Fake struct {
	opts   Options
	appID  string
	secret string
	rdb    redis.UniversalClient
	mini   *miniredis.Miniredis // nil with an external Redis
	prefix string               // KeyPrefix + "{" + AppID + "}:"
	now    func() time.Time
	mux    *http.ServeMux

	mu     sync.Mutex
	faults map[string]*Fault
	calls  map[string]int

	closeOnce sync.Once
	closed    chan struct{}
}

// New returns a Fake. Call Close when done with it.
func New(opts Options) *Fake {
	f := &Fake{
		opts:   opts,
		appID:  opts.AppID,
		secret: opts.Secret,
		rdb:    opts.Redis,
		now:    opts.Now,
		faults: map[string]*Fault{},
		calls:  map[string]int{},
		closed: make(chan struct{}),
	}
	if f.appID == "" {
		f.appID = DefaultAppID
	}
	if f.secret == "" {
		f.secret = DefaultSecret
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.opts.QRContent == nil {
		f.opts.QRContent = func(scene string) string { return "scene=" + scene }
	}
	if f.opts.Pages == nil {
		f.opts.Pages = DefaultPages
	}
	if f.opts.BlockedWords == nil {
		f.opts.BlockedWords = DefaultBlockedWords
	}
	if f.opts.UserMinuteQuota <= 0 {
		f.opts.UserMinuteQuota = 100
	}
	if f.opts.QRMinuteQuota <= 0 {
		f.opts.QRMinuteQuota = 5000
	}
	prefix := opts.KeyPrefix
	if prefix == "" {
		prefix = "sl:wxfake:"
	}
	// One hash tag for all of an app's keys: the scripts touch several of
	// them (some named inside the script), which Redis Cluster allows only
	// within one slot. The fake needs no spreading over nodes.
	f.prefix = prefix + "{" + f.appID + "}:"
	if f.rdb == nil {
		// An in-process miniredis over net.Pipe: no port, same scripts as
		// the shared mode.
		f.mini = miniredis.NewMiniRedis()
		m := f.mini
		f.rdb = redis.NewClient(&redis.Options{
			Dialer:   func(context.Context, string, string) (net.Conn, error) { return m.Dial() },
			PoolSize: 32,
		})
	}
	f.routes()
	return f
}

// NewServer starts New(opts) on a loopback httptest.Server. Close the Fake
// first (that releases requests hanging on a fault), then the server.
func NewServer(opts Options) (*Fake, *httptest.Server) {
	f := New(opts)
	return f, httptest.NewServer(f)
}

// TB is the part of testing.TB that Start uses: the package ships in the
// scanlogin binary (dev mode), which must not link package testing.
type TB interface {
	Helper()
	Cleanup(func())
}

// Start is NewServer for a test: both are closed when the test ends.
func Start(tb TB, opts Options) (*Fake, *httptest.Server) {
	tb.Helper()
	f, srv := NewServer(opts)
	tb.Cleanup(func() {
		f.Close() // first: releases hanging requests so srv.Close can return
		srv.Close()
	})
	return f, srv
}

// Close releases requests hanging on a fault and the in-process store. An
// external Redis client is left open for its owner.
func (f *Fake) Close() error {
	f.closeOnce.Do(func() {
		close(f.closed)
		if f.mini != nil {
			_ = f.rdb.Close()
			f.mini.Close()
		}
	})
	return nil
}

// AppID and Secret are the credentials the fake accepts.
func (f *Fake) AppID() string  { return f.appID }
func (f *Fake) Secret() string { return f.secret }

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Inject sets the fault for api (one of the API* names), replacing any.
func (f *Fake) Inject(api string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc := fault
	f.faults[api] = &fc
}

// ClearFaults removes every injected fault.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.faults)
}

// Calls is how many requests api has received, faulty ones included.
func (f *Fake) Calls(api string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[api]
}

// arrive counts a request to api and returns the fault it meets, if any.
func (f *Fake) arrive(api string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[api]++
	fc := f.faults[api]
	if fc == nil {
		return nil
	}
	out := *fc
	if fc.Times > 0 {
		if fc.Times--; fc.Times == 0 {
			delete(f.faults, api)
		}
	}
	return &out
}

// MintCode is what wx.login gives user openID: a code valid once, for 5
// minutes. The user's session key is created if it does not exist yet.
func (f *Fake) MintCode(ctx context.Context, openID, nickname string) (string, error) {
	if err := checkOpenID(openID); err != nil {
		return "", err
	}
	code := randString(32, alnum)
	if _, err := f.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, f.key("code", code), "openid", openID, "nickname", nickname, "issued", f.now().UnixMilli())
		p.Expire(ctx, f.key("code", code), 10*time.Minute)
		if nickname != "" {
			p.HSet(ctx, f.key("user", openID), "nickname", nickname)
		}
		p.SetNX(ctx, f.key("sk", openID), newSessionKey(), 0)
		return nil
	}); err != nil {
		return "", fmt.Errorf("wxfake: mint code: %w", err)
	}
	return code, nil
}

// MintPhoneCode is what the getPhoneNumber button gives user openID: a code
// valid once, for 5 minutes. phone is "13800138000" (mainland, country code
// 86) or "+852 91234567" / "+852-91234567" (country code before the first
// space or dash).
func (f *Fake) MintPhoneCode(ctx context.Context, openID, phone string) (string, error) {
	if err := checkOpenID(openID); err != nil {
		return "", err
	}
	if !phoneRE.MatchString(phone) {
		return "", inputError{fmt.Sprintf("wxfake: phone number %q is not like 13800138000 or +852 91234567", phone)}
	}
	code := randString(64, hexDigits)
	if _, err := f.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, f.key("pcode", code), "openid", openID, "phone", phone, "issued", f.now().UnixMilli())
		p.Expire(ctx, f.key("pcode", code), 10*time.Minute)
		return nil
	}); err != nil {
		return "", fmt.Errorf("wxfake: mint phone code: %w", err)
	}
	return code, nil
}

// SessionKey is user openID's current session key (created if missing).
func (f *Fake) SessionKey(ctx context.Context, openID string) (string, error) {
	if err := checkOpenID(openID); err != nil {
		return "", err
	}
	k := f.key("sk", openID)
	if err := f.rdb.SetNX(ctx, k, newSessionKey(), 0).Err(); err != nil {
		return "", fmt.Errorf("wxfake: session key: %w", err)
	}
	sk, err := f.rdb.Get(ctx, k).Result()
	if err != nil {
		return "", fmt.Errorf("wxfake: session key: %w", err)
	}
	return sk, nil
}

// RotateSessionKey gives user openID a new session key, as a wx.login may;
// data encrypted and signatures made with the old one stop verifying.
func (f *Fake) RotateSessionKey(ctx context.Context, openID string) (string, error) {
	if err := checkOpenID(openID); err != nil {
		return "", err
	}
	sk := newSessionKey()
	if err := f.rdb.Set(ctx, f.key("sk", openID), sk, 0).Err(); err != nil {
		return "", fmt.Errorf("wxfake: rotate session key: %w", err)
	}
	return sk, nil
}

// EncryptUserData encrypts plaintext as WeChat encrypts open data for user
// openID: AES-128-CBC under the user's session key, a random iv, PKCS#7
// padding, both base64. plaintext is used as given: include the
// watermark {"appid","timestamp"} the client checks.
func (f *Fake) EncryptUserData(ctx context.Context, openID string, plaintext []byte) (encryptedData, iv string, err error) {
	sk, err := f.SessionKey(ctx, openID)
	if err != nil {
		return "", "", err
	}
	ed, ivb, err := EncryptCBC(sk, plaintext, nil)
	if err != nil {
		return "", "", err
	}
	return ed, ivb, nil
}

// EncryptCBC encrypts plaintext under the base64 session key; a nil iv
// means a random one. It returns encryptedData and iv in base64.
func EncryptCBC(sessionKey string, plaintext, iv []byte) (encryptedData, ivB64 string, err error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != 16 {
		return "", "", errors.New("wxfake: session key is not 16 bytes of base64")
	}
	if iv == nil {
		iv = make([]byte, aes.BlockSize)
		_, _ = rand.Read(iv)
	}
	if len(iv) != aes.BlockSize {
		return "", "", errors.New("wxfake: iv is not 16 bytes")
	}
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := append(append([]byte{}, plaintext...), bytesRepeat(byte(n), n)...)
	block, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), base64.StdEncoding.EncodeToString(iv), nil
}

func bytesRepeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// ExpireTokens makes every access token issued so far answer 42001; the
// next token call mints a new one.
func (f *Fake) ExpireTokens() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = f.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, f.key("epoch"))
		p.HDel(ctx, f.key("stable"), "cur", "cur_exp", "prev", "prev_exp")
		p.HDel(ctx, f.key("classic"), "cur")
		return nil
	})
}

func (f *Fake) key(parts ...string) string { return f.prefix + strings.Join(parts, ":") }

const (
	alnum     = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	hexDigits = "0123456789abcdef"
	urlSafe   = alnum + "-_"
)

func randString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // the slight bias is harmless in a fake
	}
	return string(b)
}

func newSessionKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
