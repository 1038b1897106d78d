package server

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limits are the rate limits, as events per minute; 0 or less disables a
// limit. The poll limit is not here: the engine counts a poll in the same
// round trip as its first read (scanlogin.Config PollsPerMinute).
type Limits struct {
	CreatePerIP int // scenes created per client IP
	LoginPerIP  int // mini-program logins per client IP
	ScanPerUser int // scans per user (consent bombing)
}

// Limiter applies the rate limits of docs/ARCHITECTURE.md#limits with GCRA counters in Redis,
// shared by every instance.
type Limiter struct {
	rl       *redis_rate.Limiter
	limits   Limits
	storeErr func(op string, err error) error
}

// NewLimiter returns a Limiter on rdb. storeErr turns a failed Redis call
// into the caller's context error, scanlogin.ErrOverloaded or
// scanlogin.ErrUnavailable: pass the engine's StoreError, so that an
// overloaded instance says so here too. Limits fail closed.
func NewLimiter(rdb redis.UniversalClient, limits Limits, storeErr func(op string, err error) error) *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(rdb), limits: limits, storeErr: storeErr}
}

// allow spends one event of the named limit for key. It returns a 429 *Error
// with Retry-After when the limit is reached, and the classified store
// error (503) when Redis cannot be asked.
func (l *Limiter) allow(ctx context.Context, name string, perMinute int, key string) error {
	if perMinute <= 0 {
		return nil
	}
	// Burst equals the rate: N at once, then one more every minute/N.
	limit := redis_rate.PerMinute(perMinute)
	res, err := l.rl.Allow(ctx, "sl:{rl:"+name+":"+key+"}", limit)
	if err != nil {
		return l.storeErr("rate limit "+name, err)
	}
	if res.Allowed > 0 {
		return nil
	}
	e := *errRateLimited
	e.RetryAfter = max(res.RetryAfter, time.Second)
	return &e
}

func (l *Limiter) create(ctx context.Context, ip string) error {
	return l.allow(ctx, "create", l.limits.CreatePerIP, ip)
}

func (l *Limiter) login(ctx context.Context, ip string) error {
	return l.allow(ctx, "login", l.limits.LoginPerIP, ip)
}

func (l *Limiter) scan(ctx context.Context, userID string) error {
	return l.allow(ctx, "scan", l.limits.ScanPerUser, userID)
}
