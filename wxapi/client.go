package wxapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultBaseURL is WeChat's API host.
const DefaultBaseURL = "https://api.weixin.qq.com"

// Config configures a Client. AppID and Secret are required.
type Config struct {
	AppID, Secret string
	BaseURL       string                // default DefaultBaseURL; a trailing slash is ignored
	HTTPClient    *http.Client          // default: its own, with transport timeouts
	Redis         redis.UniversalClient // optional: the access token is shared by every instance (cache + lock); nil = in-process only
	KeyPrefix     string                // Redis key prefix, default "sl:wx:"
	Timeout       time.Duration         // per attempt, default 5s
	Logger        *slog.Logger          // default: discard
	Now           func() time.Time      // default time.Now; decides token freshness
}

// Client calls the WeChat server APIs. It is safe for concurrent use.
type Client struct {
	appID, secret string
	base          string
	hc            *http.Client
	rdb           redis.UniversalClient
	prefix        string
	timeout       time.Duration
	log           *slog.Logger
	now           func() time.Time

	// retry policy: attempts in all and the pause before each retry.
	backoff []time.Duration

	tok tokenCache
}

const maxBody = 8 << 20 // the largest QR image is well below this

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.AppID == "" || cfg.Secret == "" {
		return nil, errors.New("wxapi: AppID and Secret are required")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("wxapi: BaseURL %q is not an http(s) URL", cfg.BaseURL)
	}
	c := &Client{
		appID:   cfg.AppID,
		secret:  cfg.Secret,
		base:    base,
		hc:      cfg.HTTPClient,
		rdb:     cfg.Redis,
		prefix:  cfg.KeyPrefix,
		timeout: cfg.Timeout,
		log:     cfg.Logger,
		now:     cfg.Now,
		backoff: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond},
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   32,
			ForceAttemptHTTP2:     true,
		}}
	}
	if c.prefix == "" {
		c.prefix = "sl:wx:"
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// AppID is the mini-program AppID the client was made for.
func (c *Client) AppID() string { return c.appID }

// request is one logical WeChat call; it is rebuilt for every attempt.
type request struct {
	api    string     // name for errors, logs and metrics
	method string     // GET or POST
	path   string     // e.g. "/sns/jscode2session"
	query  url.Values // may hold secrets: never logged
	body   any        // JSON-encoded when not nil
	// singleUse: the call spends a single-use code (wx.login's, the phone
	// number button's). It is sent again only when WeChat surely never got
	// it (the connection was never made) or asked for it (errcode -1): a
	// call that timed out or broke after it was sent may have spent the
	// code, and a second try would turn a slow WeChat into 40163, "code
	// used", for the user.
	singleUse bool
}

// answer is WeChat's reply to a request.
type answer struct {
	body        []byte
	contentType string
}

// errRetry marks a transport-level failure worth another attempt; sent
// tells whether the request may have reached WeChat.
type errRetry struct {
	err  error
	sent bool
}

func (e errRetry) Error() string { return e.err.Error() }

// roundTrip performs r with a timeout per attempt, retrying transport
// failures and errcode -1 with a bounded backoff. The answer it returns is
// not a JSON errcode: those come back as *Error.
func (c *Client) roundTrip(ctx context.Context, r request) (answer, error) {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return answer{}, fmt.Errorf("wxapi: %s: encode request: %w", r.api, err)
		}
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		start := time.Now()
		a, err := c.attempt(ctx, r, payload)
		if err != nil && ctx.Err() != nil {
			// The caller gave up: no retry, no noise in the log.
			return answer{}, fmt.Errorf("wxapi: %s: %w: %w", r.api, ErrUnavailable, ctx.Err())
		}
		if err == nil && looksJSON(a.body, a.contentType) {
			err = decodeResponse(r.api, a.body, nil)
		}
		var we *Error
		retry := false
		switch {
		case err == nil:
			return a, nil
		case errors.As(err, &we):
			retry = we.Code == CodeSystemBusy
			level := slog.LevelInfo // most errcodes are about the caller's input
			if retry || isTokenCode(we.Code) {
				level = slog.LevelWarn
			}
			c.log.LogAttrs(ctx, level, "wechat error", slog.String("wx_api", r.api),
				slog.Int("wx_errcode", we.Code), slog.Int("attempt", attempt+1))
		default:
			var rt errRetry
			retry = errors.As(err, &rt) && !(r.singleUse && rt.sent)
			c.log.LogAttrs(ctx, slog.LevelWarn, "wechat call failed", slog.String("wx_api", r.api),
				slog.String("error", err.Error()), slog.Int("attempt", attempt+1),
				slog.Duration("took", time.Since(start)))
		}
		lastErr = err
		if !retry || attempt >= len(c.backoff) {
			break
		}
		t := time.NewTimer(c.backoff[attempt])
		select {
		case <-ctx.Done():
			t.Stop()
			return answer{}, fmt.Errorf("wxapi: %s: %w: %w", r.api, ErrUnavailable, ctx.Err())
		case <-t.C:
		}
	}
	var rt errRetry
	if errors.As(lastErr, &rt) {
		return answer{}, fmt.Errorf("wxapi: %s: %w: %w", r.api, ErrUnavailable, rt.err)
	}
	return answer{}, lastErr
}

// attempt is one HTTP exchange bounded by the per-attempt timeout.
func (c *Client) attempt(ctx context.Context, r request, payload []byte) (answer, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, r.method, u, body)
	if err != nil {
		return answer{}, fmt.Errorf("wxapi: %s: build request: %w", r.api, stripURL(err))
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, errRetry{err: stripURL(err), sent: !neverSent(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return answer{}, errRetry{err: fmt.Errorf("read answer: %w", stripURL(err)), sent: true}
	}
	if len(data) > maxBody {
		return answer{}, fmt.Errorf("wxapi: %s: answer larger than %d bytes: %w", r.api, maxBody, ErrUnavailable)
	}
	a := answer{body: data, contentType: resp.Header.Get("Content-Type")}
	if resp.StatusCode != http.StatusOK {
		// WeChat answers errors with 200 and a JSON body; anything else is a
		// proxy or an outage in front of it.
		if looksJSON(data, a.contentType) && decodeResponse(r.api, data, nil) != nil {
			return a, nil
		}
		err := fmt.Errorf("HTTP status %d", resp.StatusCode)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return answer{}, errRetry{err: err, sent: true}
		}
		return answer{}, fmt.Errorf("wxapi: %s: %w: %w", r.api, ErrUnavailable, err)
	}
	return a, nil
}

// stripURL drops the URL from net/http errors: it carries the secret, the
// access token or the code in its query.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// callJSON performs r and decodes a JSON answer into out.
func (c *Client) callJSON(ctx context.Context, r request, out any) error {
	a, err := c.roundTrip(ctx, r)
	if err != nil {
		return err
	}
	if !looksJSON(a.body, a.contentType) {
		return fmt.Errorf("wxapi: %s: answer is not JSON (content type %q): %w", r.api, a.contentType, ErrUnavailable)
	}
	return decodeResponse(r.api, a.body, out)
}

// withToken runs call with the shared access token in the query. When
// WeChat says the token is invalid or expired (40001/42001/40014), the token
// is dropped (only if it is still the cached one), fetched again once in
// normal mode, and call runs once more.
func (c *Client) withToken(ctx context.Context, call func(token string) error) error {
	tok, err := c.AccessToken(ctx)
	if err != nil {
		return err
	}
	err = call(tok)
	if !errors.Is(err, ErrTokenInvalid) {
		return err
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "wechat rejected the access token; fetching it again")
	before := c.invalidateToken(ctx, tok)
	if tok, err = c.token(ctx, tok, before); err != nil {
		return err
	}
	return call(tok)
}

// neverSent: err is a failure to reach WeChat at all (its name not found,
// the connection refused or never made), so nothing was sent.
func neverSent(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}
