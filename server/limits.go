package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// limiter applies the rate limits of SPEC §7 with GCRA counters in Redis,
// shared by every instance. The poll limit is not here: the engine counts a
// poll in the same round trip as its first read (scanlogin.Config
// PollsPerMinute).
type limiter struct {
	rl     *redis_rate.Limiter
	prefix string
	limits Limits
}

func newLimiter(rdb redis.UniversalClient, prefix string, limits Limits) *limiter {
	return &limiter{rl: redis_rate.NewLimiter(rdb), prefix: prefix, limits: limits}
}

// allow spends one event of the named limit for key. It returns a 429 *Error
// with Retry-After when the limit is reached, and errRedisDown (503) when
// Redis cannot answer: limits fail closed.
func (l *limiter) allow(ctx context.Context, name string, perMinute int, key string) error {
	if perMinute <= 0 {
		return nil
	}
	// Burst equals the rate: N at once, then one more every minute/N.
	limit := redis_rate.PerMinute(perMinute)
	res, err := l.rl.Allow(ctx, l.prefix+"{rl:"+name+":"+key+"}", limit)
	if errors.Is(err, context.Canceled) {
		// The client hung up: not an outage.
		return fmt.Errorf("rate limit %s: %w", name, err)
	}
	if err != nil {
		return fmt.Errorf("%w: rate limit %s: %w", errRedisDown, name, err)
	}
	if res.Allowed > 0 {
		return nil
	}
	e := *errRateLimited
	e.RetryAfter = max(res.RetryAfter, time.Second)
	return &e
}

func (l *limiter) create(ctx context.Context, ip string) error {
	return l.allow(ctx, "create", l.limits.CreatePerIP, ip)
}

func (l *limiter) login(ctx context.Context, ip string) error {
	return l.allow(ctx, "login", l.limits.LoginPerIP, ip)
}

func (l *limiter) scan(ctx context.Context, userID string) error {
	return l.allow(ctx, "scan", l.limits.ScanPerUser, userID)
}
