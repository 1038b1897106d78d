package scanlogin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Session is a web session, created when a browser redeems a scene. Its
// refresh token rotates on every use; the session ends at ExpiresAt
// (CreatedAt + SessionTTL, not extended by refreshes) or when revoked.
type Session struct {
	ID, UserID, IP, UserAgent        string
	CreatedAt, LastSeenAt, ExpiresAt time.Time
}

// Refresh tokens look like "<session id>.<256 random bits>", so the session
// is found without an index; Redis keeps only SHA-256 hashes: the current
// token's in the session hash, spent ones in a set beside it (same hash tag)
// so that a spent token coming back is recognised as reuse and kills the
// session, while a made-up token for a known session ID is merely invalid.
//
// Mini-program tokens are "<user id>.<256 random bits>", not JWTs: the
// mini-program never needs to read them (to it they are opaque), every use
// is checked against Redis anyway (GET /api/v1/mp/me is the validity
// check), and a token is revoked by deleting one key. Redis stores
// "user:{<user id>}:mpt:<sha256(token)>" -> "<user id> <expiry ms>": in the
// user's hash slot, so that the scan checks the token, counts the scan and
// reads the scanner's profile in one script (ScanWithToken). The user ID in
// the token only says where to look; the stored value decides.
//
// Tokens issued before that were the random part alone, stored under
// "mpt:{sha256(token)}" (another slot). They are still accepted until they
// expire, Config.MPTokenTTL (SCANLOGIN_MP_TOKEN_TTL, 7 days by default)
// after their issue: once that has passed since the release that issues the
// new form, the old form's fallback can go (docs/ARCHITECTURE.md#tokens):
// mpTokenKeyOf's second case and mpTokenKey, ScanWithToken's branch for a
// token that names no user, and MPTokenUser's "named" check then always
// holds.

const (
	sID, sUser, sIP, sUA, sCreated, sLastSeen, sExpires, sRefresh = "id", "uid", "ip", "ua", "ca", "ls", "ea", "rt"
)

// CreateSession starts a web session for userID and returns it with its
// first refresh token. Errors: ErrUnavailable.
func (e *Engine) CreateSession(ctx context.Context, userID, ip, userAgent string) (*Session, string, error) {
	if !validID(userID) {
		return nil, "", fmt.Errorf("scanlogin: create session: %w", ErrUserNotFound)
	}
	s, token := e.newSession(newID(), userID, ip, userAgent)
	ttl := e.cfg.SessionTTL
	_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		k := e.sessKey(s.ID)
		p.HSet(ctx, k, sID, s.ID, sUser, userID, sIP, s.IP, sUA, s.UserAgent,
			sCreated, ms(s.CreatedAt), sLastSeen, ms(s.LastSeenAt), sExpires, ms(s.ExpiresAt), sRefresh, hashToken(token))
		p.PExpire(ctx, k, ttl)
		ik := e.userSessKey(userID)
		p.ZAdd(ctx, ik, redis.Z{Score: float64(ms(s.ExpiresAt)), Member: s.ID})
		p.PExpire(ctx, ik, ttl) // every member expires no later than the newest session
		return nil
	})
	if err != nil {
		return nil, "", e.storeErr("create session", err)
	}
	return s, token, nil
}

// CreateSessionForScene starts the web session of a redeemed scene. Its ID
// is derived from the scene, and it is created only if it does not exist
// yet: a Redis failover that loses the scene's "redeemed" write but keeps
// the session cannot let a replayed redeem open a second one (docs/ARCHITECTURE.md#storage).
// Errors: ErrAlreadyRedeemed (the scene's session exists), ErrUnavailable.
func (e *Engine) CreateSessionForScene(ctx context.Context, sceneID, userID, ip, userAgent string) (*Session, string, error) {
	if !validID(userID) {
		return nil, "", fmt.Errorf("scanlogin: create session: %w", ErrUserNotFound)
	}
	if !validID(sceneID) {
		return nil, "", fmt.Errorf("scanlogin: create session: %w", ErrInvalidSceneID)
	}
	s, token := e.newSession(e.sceneSessionID(sceneID), userID, ip, userAgent)
	// The index first, in the same round trip (a pipeline keeps order):
	// ZADD NX of this ID is idempotent, and an entry without its session is
	// pruned by UserSessions.
	ttl := e.cfg.SessionTTL
	ik := e.userSessKey(userID)
	args := []any{ttl.Milliseconds(),
		sID, s.ID, sUser, userID, sIP, s.IP, sUA, s.UserAgent,
		sCreated, ms(s.CreatedAt), sLastSeen, ms(s.LastSeenAt), sExpires, ms(s.ExpiresAt), sRefresh, hashToken(token)}
	keys := []string{e.sessKey(s.ID)}
	var create *redis.Cmd
	send := func(eval bool) error {
		_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAddNX(ctx, ik, redis.Z{Score: float64(ms(s.ExpiresAt)), Member: s.ID})
			p.PExpire(ctx, ik, ttl)
			if eval {
				create = e.scripts.createSession.Eval(ctx, p, keys, args...)
			} else {
				create = e.scripts.createSession.EvalSha(ctx, p, keys, args...)
			}
			return nil
		})
		return err
	}
	err := send(false)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		// A Redis that restarted has forgotten the script: EVAL loads it.
		// ZADD NX and PEXPIRE repeat harmlessly.
		err = send(true)
	}
	if err != nil {
		return nil, "", e.storeErr("create session", err)
	}
	created, err := create.Int()
	if err != nil {
		return nil, "", e.storeErr("create session", err)
	}
	if created == 0 {
		e.log.Warn("scanlogin: second session for a scene refused", "scene", sceneID)
		return nil, "", fmt.Errorf("scanlogin: create session for scene %s: %w", sceneID, ErrAlreadyRedeemed)
	}
	return s, token, nil
}

// createSessionLua writes a session hash unless the key exists. KEYS[1]
// session. ARGV: TTL ms, then field, value pairs. Reply 1 created, 0 exists.
const createSessionLua = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`

// sceneSessionID is the session ID of a scene: keyed with the engine
// secret, so the public scene ID does not reveal it, nor it the scene.
func (e *Engine) sceneSessionID(sceneID string) string {
	m := hmac.New(sha256.New, e.cfg.SessionKeySecret)
	m.Write([]byte("scanlogin scene session\x00" + sceneID))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

func (e *Engine) newSession(id, userID, ip, userAgent string) (*Session, string) {
	now := e.now()
	s := &Session{
		ID:         id,
		UserID:     userID,
		IP:         truncate(ip, maxIP),
		UserAgent:  truncate(userAgent, maxUserAgent),
		CreatedAt:  now.Truncate(time.Millisecond),
		LastSeenAt: now.Truncate(time.Millisecond),
		ExpiresAt:  now.Add(e.cfg.SessionTTL).Truncate(time.Millisecond),
	}
	return s, s.ID + "." + newSecret()
}

// GrantKey is where the OpenID provider (server/oidcop) keeps the record of
// a session that is a client's grant. Its existence is what makes the
// session a grant: RefreshSession refuses such a session's refresh token and
// RefreshGrant accepts only those, so a token issued to a client never
// becomes a web session of ours. It shares the session's slot.
func (e *Engine) GrantKey(sessionID string) string { return e.kp + "oidc:g:{" + sessionID + "}" }

// RefreshSession spends a web session's refresh token and returns the
// session with the next one. A token that was already spent revokes the
// whole session.
// Errors: ErrInvalidToken (unknown, forged, a client's grant, or session
// gone or expired), ErrRefreshReused, ErrUnavailable.
func (e *Engine) RefreshSession(ctx context.Context, refreshToken string) (*Session, string, error) {
	return e.refresh(ctx, refreshToken, false)
}

// RefreshGrant is RefreshSession for a client's grant (GrantKey): it
// refuses a web session's refresh token.
// Errors: as RefreshSession's.
func (e *Engine) RefreshGrant(ctx context.Context, refreshToken string) (*Session, string, error) {
	return e.refresh(ctx, refreshToken, true)
}

func (e *Engine) refresh(ctx context.Context, refreshToken string, grant bool) (*Session, string, error) {
	sid, _, ok := strings.Cut(refreshToken, ".")
	if !ok || !validID(sid) {
		return nil, "", fmt.Errorf("scanlogin: refresh session: %w", ErrInvalidToken)
	}
	kind := "web"
	if grant {
		kind = "grant"
	}
	next := sid + "." + newSecret()
	now := ms(e.now())
	res, err := e.scripts.refresh.Run(ctx, e.rdb, []string{e.sessKey(sid), e.spentKey(sid), e.GrantKey(sid)},
		hashToken(refreshToken), hashToken(next), now,
		e.sealSuccessor(refreshToken, next), e.reuseWindowMS(), kind).StringSlice()
	if err != nil {
		return nil, "", e.storeErr("refresh session", err)
	}
	switch res[0] {
	case "ok":
		return sessionFromFields(pairs(res[1:])), next, nil
	case "again":
		return e.successorAgain(sid, refreshToken, res[1], res[2:])
	case "reused":
		e.log.Warn("scanlogin: spent refresh token reused; session revoked", "session", sid)
		uid := ""
		if len(res) > 1 {
			uid = res[1]
		}
		if uid != "" {
			_ = e.rdb.ZRem(ctx, e.userSessKey(uid), sid).Err()
		}
		e.sessionEnded(sid, uid, SessionRefreshReused)
		return nil, "", fmt.Errorf("scanlogin: refresh session %s: %w", sid, ErrRefreshReused)
	default:
		return nil, "", fmt.Errorf("scanlogin: refresh session: %w", ErrInvalidToken)
	}
}

// refreshLua rotates a refresh token. KEYS: session, spent set, grant
// record (GrantKey). ARGV: presented hash, next hash, now ms, next sealed
// for the presented token (sealSuccessor), reuse window ms, the kind of
// session wanted ('web' or 'grant'): a session of the other kind answers
// 'invalid' and is left as it was. The token rotated last ('pr', at 'pa')
// answers 'again' with its sealed successor ('pn') within the window.
const refreshLua = `
if (redis.call('EXISTS', KEYS[3]) == 1) ~= (ARGV[6] == 'grant') then return {'invalid'} end
local h = redis.call('HMGET', KEYS[1], 'rt', 'ea', 'uid', 'pr', 'pa', 'pn')
if not h[1] then return {'invalid'} end
if tonumber(h[2]) <= tonumber(ARGV[3]) then return {'invalid'} end
if h[4] == ARGV[1] and tonumber(ARGV[3]) - tonumber(h[5]) <= tonumber(ARGV[5]) then
  local out = {'again', h[6]}
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all do out[#out + 1] = all[i] end
  return out
end
if h[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'rt', ARGV[2], 'ls', ARGV[3], 'pr', ARGV[1], 'pa', ARGV[3], 'pn', ARGV[4])
  redis.call('SADD', KEYS[2], ARGV[1])
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
  local out = {'ok'}
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all do out[#out + 1] = all[i] end
  return out
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {'reused', h[3]}
end
return {'invalid'}
`

// SessionAlive returns the session if it exists, is not revoked and has not
// expired. Errors: ErrSessionNotFound, ErrUnavailable.
func (e *Engine) SessionAlive(ctx context.Context, sessionID string) (*Session, error) {
	if !validID(sessionID) {
		return nil, fmt.Errorf("scanlogin: session: %w", ErrSessionNotFound)
	}
	m, err := e.rdb.HGetAll(ctx, e.sessKey(sessionID)).Result()
	if err != nil {
		return nil, e.storeErr("session", err)
	}
	s := sessionFromFields(m)
	if s.ID == "" || !e.now().Before(s.ExpiresAt) {
		return nil, fmt.Errorf("scanlogin: session %s: %w", sessionID, ErrSessionNotFound)
	}
	return s, nil
}

// RevokeSession ends a session at once; its refresh token stops working.
// Errors: ErrSessionNotFound (nothing to revoke), ErrUnavailable.
func (e *Engine) RevokeSession(ctx context.Context, sessionID string) error {
	if !validID(sessionID) {
		return fmt.Errorf("scanlogin: revoke session: %w", ErrSessionNotFound)
	}
	uid, err := e.scripts.revoke.Run(ctx, e.rdb, []string{e.sessKey(sessionID), e.spentKey(sessionID)}).Text()
	if isNil(err) {
		return fmt.Errorf("scanlogin: revoke session %s: %w", sessionID, ErrSessionNotFound)
	}
	if err != nil {
		return e.storeErr("revoke session", err)
	}
	if err := e.rdb.ZRem(ctx, e.userSessKey(uid), sessionID).Err(); err != nil {
		// The session is already dead; a stale index entry is pruned by
		// UserSessions.
		e.log.Warn("scanlogin: unindex revoked session", "session", sessionID, "err", err)
	}
	e.sessionEnded(sessionID, uid, SessionRevoked)
	return nil
}

// sessionEnded tells Config.OnSessionEnd, if any.
func (e *Engine) sessionEnded(sessionID, userID, reason string) {
	if e.cfg.OnSessionEnd != nil {
		e.cfg.OnSessionEnd(SessionEnd{SessionID: sessionID, UserID: userID, Reason: reason})
	}
}

const revokeLua = `
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid then return false end
redis.call('DEL', KEYS[1], KEYS[2])
return uid
`

// UserSessions lists the user's live web sessions, most recently seen first.
// Errors: ErrUnavailable.
func (e *Engine) UserSessions(ctx context.Context, userID string) ([]*Session, error) {
	if !validID(userID) {
		return nil, nil
	}
	now := e.now()
	ik := e.userSessKey(userID)
	ids, err := e.rdb.ZRangeByScore(ctx, ik, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(ms(now), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, e.storeErr("user sessions", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, e.sessKey(id))
		}
		p.ZRemRangeByScore(ctx, ik, "-inf", strconv.FormatInt(ms(now), 10))
		return nil
	})
	if err != nil {
		return nil, e.storeErr("user sessions", err)
	}
	out := make([]*Session, 0, len(ids))
	var gone []any
	for i, c := range cmds {
		s := sessionFromFields(c.Val())
		if s.ID == "" || s.UserID != userID || !now.Before(s.ExpiresAt) {
			gone = append(gone, ids[i])
			continue
		}
		out = append(out, s)
	}
	if len(gone) > 0 {
		_ = e.rdb.ZRem(ctx, ik, gone...).Err() // housekeeping only
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeenAt.After(out[j].LastSeenAt) })
	return out, nil
}

func sessionFromFields(m map[string]string) *Session {
	return &Session{
		ID:         m[sID],
		UserID:     m[sUser],
		IP:         m[sIP],
		UserAgent:  m[sUA],
		CreatedAt:  msField(m, sCreated),
		LastSeenAt: msField(m, sLastSeen),
		ExpiresAt:  msField(m, sExpires),
	}
}

// IssueMPToken returns a new mini-program login token for userID and its
// lifetime: "<user id>.<secret>". Errors: ErrUnavailable.
func (e *Engine) IssueMPToken(ctx context.Context, userID string) (string, time.Duration, error) {
	if !validID(userID) {
		return "", 0, fmt.Errorf("scanlogin: issue mp token: %w", ErrUserNotFound)
	}
	token := userID + "." + newSecret()
	ttl := e.cfg.MPTokenTTL
	exp := ms(e.now().Add(ttl))
	if err := e.rdb.Set(ctx, e.userMPTokenKey(userID, hashToken(token)), userID+" "+strconv.FormatInt(exp, 10), ttl).Err(); err != nil {
		return "", 0, e.storeErr("issue mp token", err)
	}
	return token, ttl, nil
}

// mpTokenUserOf is the user a token of the current form names (not yet
// checked), or "" for any other string.
func mpTokenUserOf(token string) string {
	uid, _, ok := strings.Cut(token, ".")
	if !ok || !validID(uid) {
		return ""
	}
	return uid
}

// mpTokenKeyOf is where Redis keeps a mini-program token, and the user its
// form names: the current form in that user's slot, any other string under
// the old form's key (with no user).
func (e *Engine) mpTokenKeyOf(token string) (key, uid string) {
	if uid := mpTokenUserOf(token); uid != "" {
		return e.userMPTokenKey(uid, hashToken(token)), uid
	}
	// The old form (before tokens named their user): see the comment at
	// the top of this file for when this can go.
	return e.mpTokenKey(hashToken(token)), ""
}

// validMPTokenLength refuses what no token of ours can be before Redis is
// asked.
func validMPTokenLength(token string) bool { return token != "" && len(token) <= 256 }

// MPTokenUser returns the user a mini-program token belongs to. It accepts
// both forms (see the comment at the top of this file).
// Errors: ErrInvalidToken (unknown, revoked or expired), ErrUnavailable.
func (e *Engine) MPTokenUser(ctx context.Context, token string) (string, error) {
	if !validMPTokenLength(token) {
		return "", fmt.Errorf("scanlogin: mp token: %w", ErrInvalidToken)
	}
	key, named := e.mpTokenKeyOf(token)
	v, err := e.rdb.Get(ctx, key).Result()
	if isNil(err) {
		return "", fmt.Errorf("scanlogin: mp token: %w", ErrInvalidToken)
	}
	if err != nil {
		return "", e.storeErr("mp token", err)
	}
	uid, expS, _ := strings.Cut(v, " ")
	exp, _ := strconv.ParseInt(expS, 10, 64)
	if named != "" && uid != named || ms(e.now()) >= exp {
		return "", fmt.Errorf("scanlogin: mp token: %w", ErrInvalidToken)
	}
	return uid, nil
}

// RevokeMPToken makes a mini-program token of either form invalid at once.
// Revoking an unknown token is not an error. Errors: ErrUnavailable.
func (e *Engine) RevokeMPToken(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	key, _ := e.mpTokenKeyOf(token)
	if err := e.rdb.Del(ctx, key).Err(); err != nil {
		return e.storeErr("revoke mp token", err)
	}
	return nil
}
