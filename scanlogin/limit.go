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
// the scan's check also reads the scanner's profile (and, for a phone that
// presents its mini-program token, checks that token first) in the same
// script.
// One script rather than a pipeline: go-redis waits its read timeout once
// per reply of a pipeline, so against a hung Redis a script fails within
// one timeout.

// limitKey is the state of one of the server's limits (create, login,
// link) for key (the client IP).
func (e *Engine) limitKey(limit, key string) string { return e.kp + "{rl:" + limit + ":" + key + "}" }

// scanLimitKey is the state of a user's scan limit: in the user's hash
// slot, so that the scan's check, its read of the user cache and the check
// of the phone's mini-program token are one script.
func (e *Engine) scanLimitKey(userID string) string { return e.kp + "user:{" + userID + "}:rl:scan" }

// limitLua spends one event of a GCRA limit. KEYS[1] the limit's state;
// ARGV: now ms, the emission interval ms (a minute / the limit), the burst
// (the limit; 0 counts nothing and leaves KEYS[1] alone), the user KEYS[3]
// must name ("" without KEYS[3]). KEYS[2], when given, is a hash in the
// same slot (the user cache) whose fields ARGV[5..] come back with an event
// that passes, unless it cannot be read (the event still counts). KEYS[3],
// when given (with KEYS[2]), is a mini-program token in the same slot
// ("<user> <expiry ms>", ScanWithToken): unless it exists, names ARGV[4]
// and expires after ARGV[1], the reply is {'bad_token'} before anything is
// counted. Reply {'ok', fields...}, or {'limited', ms until an event may
// pass} or {'bad_token'}, both having written nothing.
const limitLua = `
local now = tonumber(ARGV[1])
if KEYS[3] then
  local v = redis.call('GET', KEYS[3])
  local sp = v and string.find(v, ' ', 1, true)
  if not sp or string.sub(v, 1, sp - 1) ~= ARGV[4] or (tonumber(string.sub(v, sp + 1)) or 0) <= now then
    return {'bad_token'}
  end
end
local t, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
if burst > 0 then
  local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
  local wait = tat + t - t * burst - now
  if wait > 0 then return {'limited', wait} end
  redis.call('SET', KEYS[1], tat + t, 'PX', tat + t - now)
end
if not KEYS[2] then return {'ok'} end
local f = redis.pcall('HMGET', KEYS[2], unpack(ARGV, 5))
if f.err then return {'ok'} end
return {'ok', unpack(f)}
`

// count spends one event of limit (perMinute; 0 or less counts nothing)
// under the state key keys[0] and returns what limitLua read of the hash
// keys[1], if given; with keys[2], only if that mini-program token is
// tokenUser's and live (else ErrInvalidToken, nothing counted).
// Errors: *LimitError, ErrInvalidToken, ErrUnavailable, ErrOverloaded, the
// context's error.
func (e *Engine) count(ctx context.Context, limit string, perMinute int, keys []string, tokenUser string, fields ...any) ([]any, error) {
	var interval int64
	if perMinute > 0 {
		interval = max((time.Minute / time.Duration(perMinute)).Milliseconds(), 1)
	} else {
		perMinute = 0
	}
	args := append([]any{ms(e.now()), interval, perMinute, tokenUser}, fields...)
	res, err := e.scripts.limit.Run(ctx, e.rdb, keys, args...).Slice()
	if err != nil {
		return nil, e.storeErr("rate limit "+limit, err)
	}
	if len(res) == 1 && res[0] == "bad_token" {
		return nil, fmt.Errorf("scanlogin: mp token: %w", ErrInvalidToken)
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
	_, err := e.count(ctx, limit, perMinute, []string{e.limitKey(limit, key)}, "")
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
