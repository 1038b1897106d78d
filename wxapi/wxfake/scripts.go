package wxfake

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// tokenRecordTTL is how long a token's record outlives its expiry, so a late
// caller still gets 42001 (expired) rather than 40001 (unknown).
const tokenRecordTTL = 24 * time.Hour

// Every issued token has a record tok:<token> {exp, epoch, until}: past exp
// or minted before the current epoch (ExpireTokens bumps it) it answers
// 42001, past until (superseded) 40001. The state machines below only mint
// tokens and set until.

// stableScript is the stable_token state machine (fact sheet §2b).
// KEYS[1] state hash, KEYS[2] epoch. ARGV: now ms, force "1"/"0", new token, ttl ms, day,
// token record prefix, rotate window ms, record ttl ms.
// Returns {errcode, token, expires_in ms}.
var stableScript = redis.NewScript(`
local now, ttl, win, recttl = tonumber(ARGV[1]), tonumber(ARGV[4]), tonumber(ARGV[7]), tonumber(ARGV[8])
local st = redis.call('HMGET', KEYS[1], 'cur', 'cur_exp', 'prev', 'prev_exp', 'fday', 'fcount', 'flast')
local cur, curExp, prev = st[1], tonumber(st[2]), st[3]
local fcount, flast = tonumber(st[6]) or 0, tonumber(st[7])
local function mint()
  local k = ARGV[6] .. ARGV[3]
  redis.call('HSET', k, 'exp', now + ttl, 'epoch', redis.call('GET', KEYS[2]) or '0')
  redis.call('PEXPIRE', k, ttl + recttl)
  return ARGV[3]
end
local function revoke(t)
  if t then redis.call('HSET', ARGV[6] .. t, 'until', now) end
end
if ARGV[2] == '1' then
  if st[5] ~= ARGV[5] then fcount = 0 end
  if fcount >= 20 then return {45009, '', 0} end
  if flast and now - flast < 30000 and cur and curExp and now < curExp then
    -- forced again within 30 s: "it will not refresh"
    return {0, cur, curExp - now}
  end
  revoke(cur)
  revoke(prev)
  cur = mint()
  redis.call('HDEL', KEYS[1], 'prev', 'prev_exp')
  redis.call('HSET', KEYS[1], 'cur', cur, 'cur_exp', now + ttl, 'fday', ARGV[5], 'fcount', fcount + 1, 'flast', now)
  return {0, cur, ttl}
end
if not cur or not curExp or now >= curExp then
  cur = mint()
  curExp = now + ttl
  redis.call('HDEL', KEYS[1], 'prev', 'prev_exp')
  redis.call('HSET', KEYS[1], 'cur', cur, 'cur_exp', curExp)
elseif curExp - now < win then
  -- last minutes of the token: hand out a new one; the old one keeps
  -- working until its own expiry
  redis.call('HSET', KEYS[1], 'prev', cur, 'prev_exp', curExp)
  cur = mint()
  curExp = now + ttl
  redis.call('HSET', KEYS[1], 'cur', cur, 'cur_exp', curExp)
end
return {0, cur, curExp - now}
`)

// classicScript is /cgi-bin/token: every call mints a new token; the one it
// supersedes keeps working for the grace period; 2000 calls a day.
// KEYS[1] state hash, KEYS[2] epoch. ARGV: now ms, new token, ttl ms, day, token record
// prefix, grace ms, record ttl ms. Returns {errcode, token, expires_in ms}.
var classicScript = redis.NewScript(`
local now, ttl, grace, recttl = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[6]), tonumber(ARGV[7])
local st = redis.call('HMGET', KEYS[1], 'cur', 'day', 'count')
local count = tonumber(st[3]) or 0
if st[2] ~= ARGV[4] then count = 0 end
if count >= 2000 then return {45009, '', 0} end
if st[1] then redis.call('HSET', ARGV[5] .. st[1], 'until', now + grace) end
local k = ARGV[5] .. ARGV[2]
redis.call('HSET', k, 'exp', now + ttl, 'epoch', redis.call('GET', KEYS[2]) or '0')
redis.call('PEXPIRE', k, ttl + recttl)
redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'day', ARGV[4], 'count', count + 1)
return {0, ARGV[2], ttl}
`)
