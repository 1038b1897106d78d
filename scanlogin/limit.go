package scanlogin

import (
	"context"
	"fmt"
	"time"
)

// Rate limits (docs/ARCHITECTURE.md#limits) are GCRA in Redis, so that
// every instance shares them: a limit of n per minute lets n events pass at
// once, then one more every minute/n, and a refused event learns when the
// next one may pass, as go-redis/redis_rate does. A check is one script
// (limitLua) that reads and writes one key, the limit's theoretical arrival
// time, judged by the engine's clock as the scene scripts are, rather than
// redis_rate's script with its own TIME: three commands instead of four, and
// the scan's check also reads the scanner's profile in the same script.
// One script rather than a pipeline: go-redis waits its read timeout once
// per reply of a pipeline, so against a hung Redis a script fails within
// one timeout.

// limitKey is the state of one of the server's limits (create, login,
// link) for key (the client IP).
func (e *Engine) limitKey(limit, key string) string { return e.kp + "{rl:" + limit + ":" + key + "}" }

// scanLimitKey is the state of a user's scan limit: in the user's hash
// slot, so that the scan's check and its read of the user cache are one
// script.
func (e *Engine) scanLimitKey(userID string) string { return e.kp + "user:{" + userID + "}:rl:scan" }

// limitLua spends one event of a GCRA limit. KEYS[1] the limit's state;
// ARGV: now ms, the emission interval ms (a minute / the limit), the burst
// (the limit). KEYS[2], when given, is a hash in the same slot (the user
// cache) whose fields ARGV[4..] come back with an event that passes, unless
// it cannot be read (the event still counts). Reply {'ok', fields...}, or
// {'limited', ms until an event may pass} having written nothing.
const limitLua = `
local now, t = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local wait = tat + t - t * tonumber(ARGV[3]) - now
if wait > 0 then return {'limited', wait} end
redis.call('SET', KEYS[1], tat + t, 'PX', tat + t - now)
if not KEYS[2] then return {'ok'} end
local f = redis.pcall('HMGET', KEYS[2], unpack(ARGV, 4))
if f.err then return {'ok'} end
return {'ok', unpack(f)}
`

// count spends one event of limit (perMinute, above 0) under the state
// key keys[0] and returns what limitLua read of the hash keys[1], if given.
// Errors: *LimitError, ErrUnavailable, ErrOverloaded, the context's error.
func (e *Engine) count(ctx context.Context, limit string, perMinute int, keys []string, fields ...any) ([]any, error) {
	interval := max((time.Minute / time.Duration(perMinute)).Milliseconds(), 1)
	args := append([]any{ms(e.now()), interval, perMinute}, fields...)
	res, err := e.scripts.limit.Run(ctx, e.rdb, keys, args...).Slice()
	if err != nil {
		return nil, e.storeErr("rate limit "+limit, err)
	}
	if len(res) == 2 && res[0] == "limited" {
		wait, _ := res[1].(int64)
		return nil, &LimitError{Limit: limit, RetryAfter: max(time.Duration(wait)*time.Millisecond, time.Second)}
	}
	return res[1:], nil
}

// Allow spends one event of the named per-minute limit for key, shared by
// every instance: the server's limits by client IP (creation, the
// mini-program login). perMinute 0 or less allows everything. The scan
// limit is Config.ScansPerMinute (checked in the scan's own read) and the
// poll limit Config.PollsPerMinute (in the poll's first read).
// Errors: *LimitError, ErrUnavailable, ErrOverloaded, the context's error.
func (e *Engine) Allow(ctx context.Context, limit, key string, perMinute int) error {
	if perMinute <= 0 {
		return nil
	}
	_, err := e.count(ctx, limit, perMinute, []string{e.limitKey(limit, key)})
	return err
}

// LimitError is a rate limit reached (ErrRateLimited; for the poll limit
// also ErrPollLimited), with the time until the next event is allowed.
type LimitError struct {
	Limit      string // "create", "login", "link", "scan" or "poll"
	RetryAfter time.Duration
}

// PollLimitError is the LimitError of Config.PollsPerMinute.
type PollLimitError = LimitError

func (e *LimitError) Error() string {
	return fmt.Sprintf("scanlogin: %s: %v, retry after %s", e.Limit, ErrRateLimited, e.RetryAfter)
}

func (e *LimitError) Is(target error) bool {
	return target == ErrRateLimited || target == ErrPollLimited && e.Limit == limitPoll
}

const limitPoll = "poll"
