package scanlogin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// User is a person known by their OpenID. It never carries the session key.
type User struct {
	ID, OpenID, UnionID, Nickname, AvatarURL, Phone string
	CreatedAt, UpdatedAt                            time.Time
}

// HasPhone reports whether the user has bound a phone number.
func (u *User) HasPhone() bool { return u.Phone != "" }

// LoginInfo is what a verified code2Session answer gives.
type LoginInfo struct{ OpenID, UnionID, SessionKey string }

// ProfileUpdate changes the non-nil fields.
type ProfileUpdate struct{ Nickname, AvatarURL, Phone *string }

// User hash fields. The session key lives in "sk", AES-GCM sealed, and is
// read only by SessionKey.
const (
	fID, fOpenID, fUnionID, fNickname, fAvatar, fPhone = "id", "oid", "unid", "nick", "avatar", "phone"
	fSessionKey, fCreated, fUpdated, fAvatarID         = "sk", "ca", "ua", "avid"
	fAvatarPending                                     = "avpend" // the last upload not yet saved (avatar.go)
)

// LoginUser finds the user with info.OpenID or creates one, atomically: two
// concurrent first logins of one OpenID yield one user, and created is true
// for exactly one of them. The UnionID (when given) and the session key
// (sealed) are stored on every login.
// Errors: ErrUnavailable.
func (e *Engine) LoginUser(ctx context.Context, info LoginInfo) (*User, bool, error) {
	if info.OpenID == "" {
		return nil, false, errors.New("scanlogin: login user: empty openid")
	}
	// SET NX GET claims the OpenID for a fresh ID in one command, or tells
	// us whose it already is.
	candidate := newID()
	id, err := e.rdb.SetArgs(ctx, e.openIDKey(info.OpenID), candidate, redis.SetArgs{Mode: "NX", Get: true}).Result()
	created := false
	switch {
	case isNil(err):
		id, created = candidate, true
	case err != nil:
		return nil, false, e.storeErr("login user", err)
	}
	sealed := ""
	if info.SessionKey != "" {
		sealed = e.sealer.seal(info.SessionKey, id)
	}
	// Both racers write the same login fields, so whichever runs first, the
	// user hash ends up complete; a crash between the two commands heals on
	// the next login.
	now := strconv.FormatInt(ms(e.now()), 10)
	res, err := e.scripts.loginUser.Run(ctx, e.rdb, []string{e.userKey(id)},
		id, info.OpenID, info.UnionID, sealed, now).StringSlice()
	if err != nil {
		return nil, false, e.storeErr("login user", err)
	}
	return userFromFields(pairs(res)), created, nil
}

const loginUserLua = `
local f = {'HSET', KEYS[1], 'id', ARGV[1], 'oid', ARGV[2], 'ua', ARGV[5]}
if ARGV[3] ~= '' then table.insert(f, 'unid'); table.insert(f, ARGV[3]) end
if ARGV[4] ~= '' then table.insert(f, 'sk'); table.insert(f, ARGV[4]) end
redis.call(unpack(f))
redis.call('HSETNX', KEYS[1], 'ca', ARGV[5])
return redis.call('HGETALL', KEYS[1])
`

// User returns a user by ID. Errors: ErrUserNotFound, ErrUnavailable.
func (e *Engine) User(ctx context.Context, id string) (*User, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: user: %w", ErrUserNotFound)
	}
	m, err := e.rdb.HGetAll(ctx, e.userKey(id)).Result()
	if err != nil {
		return nil, e.storeErr("user", err)
	}
	if m[fID] == "" {
		return nil, fmt.Errorf("scanlogin: user %s: %w", id, ErrUserNotFound)
	}
	return userFromFields(m), nil
}

// UpdateUser sets the non-nil profile fields and returns the user.
// Errors: ErrUserNotFound, ErrUnavailable.
func (e *Engine) UpdateUser(ctx context.Context, id string, p ProfileUpdate) (*User, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: update user: %w", ErrUserNotFound)
	}
	args := []any{fUpdated, strconv.FormatInt(ms(e.now()), 10)}
	if p.Nickname != nil {
		args = append(args, fNickname, truncate(*p.Nickname, maxNickname))
	}
	if p.AvatarURL != nil {
		args = append(args, fAvatar, truncate(*p.AvatarURL, 1024))
	}
	if p.Phone != nil {
		args = append(args, fPhone, truncate(*p.Phone, 32))
	}
	res, err := e.scripts.updateUser.Run(ctx, e.rdb, []string{e.userKey(id)}, args...).StringSlice()
	if isNil(err) {
		return nil, fmt.Errorf("scanlogin: update user %s: %w", id, ErrUserNotFound)
	}
	if err != nil {
		return nil, e.storeErr("update user", err)
	}
	return userFromFields(pairs(res)), nil
}

// updateUserLua writes fields only to an existing user (no resurrection of
// a deleted one by a late update).
const updateUserLua = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], unpack(ARGV))
return redis.call('HGETALL', KEYS[1])
`

// SessionKey returns the user's WeChat session_key, decrypted, or "" if none
// is stored. For server-side use only (checking signatures, decrypting open
// data); never send it to a client.
// Errors: ErrUserNotFound, ErrUnavailable.
func (e *Engine) SessionKey(ctx context.Context, userID string) (string, error) {
	if !validID(userID) {
		return "", fmt.Errorf("scanlogin: session key: %w", ErrUserNotFound)
	}
	v, err := e.rdb.HMGet(ctx, e.userKey(userID), fID, fSessionKey).Result()
	if err != nil {
		return "", e.storeErr("session key", err)
	}
	if s, _ := v[0].(string); s == "" {
		return "", fmt.Errorf("scanlogin: session key of %s: %w", userID, ErrUserNotFound)
	}
	sealed, _ := v[1].(string)
	if sealed == "" {
		return "", nil
	}
	plain, err := e.sealer.open(sealed, userID)
	if err != nil {
		// Wrong SessionKeySecret or tampered data; never log the value.
		return "", fmt.Errorf("scanlogin: open session key of %s: %w", userID, err)
	}
	return plain, nil
}

// Avatar returns a stored avatar image.
// Errors: ErrAvatarNotFound, ErrUnavailable.
func (e *Engine) Avatar(ctx context.Context, avatarID string) (string, []byte, error) {
	if !validID(avatarID) {
		return "", nil, fmt.Errorf("scanlogin: avatar: %w", ErrAvatarNotFound)
	}
	b, err := e.rdb.Get(ctx, e.avatarKey(avatarID)).Bytes()
	if isNil(err) {
		return "", nil, fmt.Errorf("scanlogin: avatar %s: %w", avatarID, ErrAvatarNotFound)
	}
	if err != nil {
		return "", nil, e.storeErr("avatar", err)
	}
	ct, data := unpackBlob(b)
	return ct, data, nil
}

func pairs(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}

func msField(m map[string]string, k string) time.Time {
	v, _ := strconv.ParseInt(m[k], 10, 64)
	return fromMS(v)
}

func userFromFields(m map[string]string) *User {
	return &User{
		ID:        m[fID],
		OpenID:    m[fOpenID],
		UnionID:   m[fUnionID],
		Nickname:  m[fNickname],
		AvatarURL: m[fAvatar],
		Phone:     m[fPhone],
		CreatedAt: msField(m, fCreated),
		UpdatedAt: msField(m, fUpdated),
	}
}
