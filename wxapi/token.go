package wxapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// refreshAhead is how long before its expiry a token is fetched again.
// stable_token hands out a new token only in the last 5 minutes of the old
// one (before that, a normal-mode call returns the same token), so the margin
// must sit inside that window or every refresh would just get the old token
// back; the old token stays valid meanwhile, so a failed refresh costs
// nothing.
const refreshAhead = 4 * time.Minute

// tokenCache is the in-process copy of the access token plus the one fetch
// in flight (single-flight: however many goroutines need a token, one
// fetches and the others wait for its result).
type tokenCache struct {
	mu        sync.Mutex
	token     string
	expiresAt time.Time
	flight    *tokenFlight
	flights   uint64    // flights started so far
	lastFail  time.Time // when a fetch last failed (wall clock: this is about call rates)
}

// failPause spaces refreshes that nobody waits for after a failed one, so a
// WeChat that keeps failing is not called on every request.
const failPause = 5 * time.Second

type tokenFlight struct {
	seq       uint64 // its number among the flights
	done      chan struct{}
	token     string
	expiresAt time.Time
	err       error
}

// AccessToken returns a valid access token from stable_token (normal mode,
// never force_refresh). It is cached in the process and, with Redis, shared by
// every instance: one instance at a time fetches it (a Redis lock with a
// deadline) and the others read it from the cache. Errors: ErrUnavailable,
// *Error from stable_token (e.g. ErrDailyQuota), the context's error.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	return c.token(ctx, "", 0)
}

// token is AccessToken, except that it does not return avoid, the token
// WeChat has just rejected, from the cache or from a fetch that began before
// the rejection (flight number <= before); a fetch that began after it is
// trusted even if WeChat gave the same token back.
func (c *Client) token(ctx context.Context, avoid string, before uint64) (string, error) {
	for try := 0; ; try++ {
		now := c.now()
		c.tok.mu.Lock()
		tok, exp := c.tok.token, c.tok.expiresAt
		usable := tok != "" && tok != avoid && now.Before(exp)
		if usable && now.Before(exp.Add(-refreshAhead)) {
			c.tok.mu.Unlock()
			return tok, nil
		}
		if usable {
			// Due for refresh but still valid: fetch in the background and
			// let nobody wait (a slow WeChat must not slow every call).
			if c.tok.flight == nil && time.Since(c.tok.lastFail) >= failPause {
				c.startFlight(ctx)
			}
			c.tok.mu.Unlock()
			return tok, nil
		}
		f := c.tok.flight
		if f == nil {
			f = c.startFlight(ctx)
		}
		c.tok.mu.Unlock()

		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wxapi: access token: %w: %w", ErrUnavailable, ctx.Err())
		case <-f.done:
		}
		switch {
		case f.err == nil && (f.token != avoid || f.seq > before || try > 0):
			return f.token, nil
		case f.err == nil:
			// A fetch that started before the rejection may still carry the
			// rejected token: wait for one more, fresh fetch.
			continue
		default:
			return "", f.err
		}
	}
}

// startFlight starts a fetch; c.tok.mu must be held.
func (c *Client) startFlight(ctx context.Context) *tokenFlight {
	c.tok.flights++
	f := &tokenFlight{seq: c.tok.flights, done: make(chan struct{})}
	c.tok.flight = f
	// The fetch serves every waiter: it must not die with the first one.
	go c.runFlight(context.WithoutCancel(ctx), f)
	return f
}

// runFlight fetches the token for every waiter and caches it.
func (c *Client) runFlight(ctx context.Context, f *tokenFlight) {
	ctx, cancel := context.WithTimeout(ctx, c.lockTTL()+c.timeout)
	defer cancel()
	f.token, f.expiresAt, f.err = c.loadToken(ctx)
	if f.err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "access token fetch failed", slog.String("error", f.err.Error()))
	}
	c.tok.mu.Lock()
	if f.err == nil {
		c.tok.token, c.tok.expiresAt = f.token, f.expiresAt
	} else {
		c.tok.lastFail = time.Now()
	}
	c.tok.flight = nil
	c.tok.mu.Unlock()
	close(f.done)
}

// lockTTL bounds how long one instance may hold the fetch lock: a whole
// retried stable_token call fits in it.
func (c *Client) lockTTL() time.Duration {
	d := time.Second
	for _, b := range c.backoff {
		d += b
	}
	return d + time.Duration(len(c.backoff)+1)*c.timeout
}

func (c *Client) fresh(exp time.Time) bool { return c.now().Before(exp.Add(-refreshAhead)) }

func (c *Client) tokenKey() string { return c.prefix + "token:" + c.appID }

// loadToken gets a fresh token from the shared cache or from WeChat, holding
// the shared lock while fetching. Without Redis, or when Redis fails, it
// fetches directly: stable_token in normal mode is idempotent and never
// invalidates a token another instance holds, so the lock saves calls, not
// correctness.
func (c *Client) loadToken(ctx context.Context) (string, time.Time, error) {
	if c.rdb == nil {
		return c.fetchStableToken(ctx)
	}
	key, lockKey := c.tokenKey(), c.tokenKey()+":lock"
	if tok, exp, err := c.readShared(ctx, key); err != nil {
		return c.redisFallback(ctx, err)
	} else if tok != "" && c.fresh(exp) {
		return tok, exp, nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	poll := time.NewTicker(25 * time.Millisecond)
	defer poll.Stop()
	for {
		ok, err := c.rdb.SetNX(ctx, lockKey, owner, c.lockTTL()).Result()
		if err != nil {
			return c.redisFallback(ctx, err)
		}
		if ok {
			return c.fetchLocked(ctx, key, lockKey, owner)
		}
		// Another instance is fetching: wait for its token (or for its lock
		// to go away, after which we try to take it ourselves).
		select {
		case <-ctx.Done():
			return "", time.Time{}, fmt.Errorf("wxapi: access token: waiting for another instance: %w: %w", ErrUnavailable, ctx.Err())
		case <-poll.C:
		}
		tok, exp, err := c.readShared(ctx, key)
		if err != nil {
			return c.redisFallback(ctx, err)
		}
		if tok != "" && c.fresh(exp) {
			return tok, exp, nil
		}
	}
}

func (c *Client) fetchLocked(ctx context.Context, key, lockKey, owner string) (string, time.Time, error) {
	defer func() {
		// Release only our own lock: if it lapsed, another instance may hold it now.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = delIfEqual.Run(rctx, c.rdb, []string{lockKey}, owner).Err()
	}()
	// Someone may have stored a token between our read and our lock.
	if tok, exp, err := c.readShared(ctx, key); err == nil && tok != "" && c.fresh(exp) {
		return tok, exp, nil
	}
	tok, exp, err := c.fetchStableToken(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	if ttl := exp.Sub(c.now()); ttl > 0 {
		_, werr := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "token", tok, "exp", strconv.FormatInt(exp.UnixMilli(), 10))
			p.PExpire(ctx, key, ttl)
			return nil
		})
		if werr != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "cannot share the access token through Redis", slog.String("error", werr.Error()))
		}
	}
	return tok, exp, nil
}

func (c *Client) redisFallback(ctx context.Context, err error) (string, time.Time, error) {
	c.log.LogAttrs(ctx, slog.LevelWarn, "redis unusable for the access token; fetching without the shared lock", slog.String("error", err.Error()))
	return c.fetchStableToken(ctx)
}

// readShared returns the token in Redis, "" when there is none.
func (c *Client) readShared(ctx context.Context, key string) (string, time.Time, error) {
	v, err := c.rdb.HMGet(ctx, key, "token", "exp").Result()
	if err != nil {
		return "", time.Time{}, err
	}
	tok, _ := v[0].(string)
	expS, _ := v[1].(string)
	ms, perr := strconv.ParseInt(expS, 10, 64)
	if tok == "" || perr != nil {
		return "", time.Time{}, nil
	}
	return tok, time.UnixMilli(ms), nil
}

// delIfEqual deletes KEYS[1] when it holds ARGV[1] (a lock owner).
var delIfEqual = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// delTokenIfEqual deletes the shared token hash when it still holds the
// rejected token, so one instance never throws away a newer token that
// another has just stored.
var delTokenIfEqual = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// invalidateToken forgets failed, WeChat having rejected it, wherever it is
// still the current token. It returns the number of fetches begun so far:
// those may have read failed from Redis before it was dropped there.
func (c *Client) invalidateToken(ctx context.Context, failed string) uint64 {
	c.tok.mu.Lock()
	if c.tok.token == failed {
		c.tok.token, c.tok.expiresAt = "", time.Time{}
	}
	c.tok.mu.Unlock()
	if c.rdb != nil {
		if err := delTokenIfEqual.Run(ctx, c.rdb, []string{c.tokenKey()}, failed).Err(); err != nil && !errors.Is(err, redis.Nil) {
			c.log.LogAttrs(ctx, slog.LevelWarn, "cannot drop the rejected access token from Redis", slog.String("error", err.Error()))
		}
	}
	c.tok.mu.Lock()
	defer c.tok.mu.Unlock()
	return c.tok.flights
}

type stableTokenRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

type tokenAnswer struct {
	AccessToken string     `json:"access_token"`
	ExpiresIn   lenientInt `json:"expires_in"`
}

// fetchStableToken calls POST /cgi-bin/stable_token in normal mode.
func (c *Client) fetchStableToken(ctx context.Context) (string, time.Time, error) {
	var a tokenAnswer
	err := c.callJSON(ctx, request{
		api: "stable_token", method: "POST", path: "/cgi-bin/stable_token",
		body: stableTokenRequest{GrantType: "client_credential", AppID: c.appID, Secret: c.secret},
	}, &a)
	if err != nil {
		return "", time.Time{}, err
	}
	if a.AccessToken == "" || a.ExpiresIn <= 0 {
		return "", time.Time{}, fmt.Errorf("wxapi: stable_token: answer without a token: %w", ErrUnavailable)
	}
	exp := c.now().Add(time.Duration(a.ExpiresIn) * time.Second)
	c.log.LogAttrs(ctx, slog.LevelInfo, "access token fetched", slog.Int("expires_in", int(a.ExpiresIn)))
	return a.AccessToken, exp, nil
}
