package scanlogin

import (
	"context"
	"fmt"
	"strconv"
)

// Uploaded avatars (README.md, the API table): an upload is stored
// with a time to live (Config.AvatarUploadTTL) and becomes permanent only when
// a profile save refers to it (ClaimAvatar). An upload that no save ever
// names, because the save failed or never came, expires by itself. A user has
// at most one permanent uploaded avatar ("avid") and one pending upload
// ("avpend"); replacing either deletes the one it replaces. Every step touches
// one key, so this works on Redis Cluster too.

// PutAvatar stores an avatar image uploaded by the user, pending until a
// ClaimAvatar, and returns its ID. The user's previous pending upload is
// deleted; the profile is not changed.
// Errors: ErrUserNotFound, ErrUnavailable.
func (e *Engine) PutAvatar(ctx context.Context, userID, contentType string, data []byte) (string, error) {
	if !validID(userID) {
		return "", fmt.Errorf("scanlogin: put avatar: %w", ErrUserNotFound)
	}
	v, err := e.rdb.HMGet(ctx, e.userKey(userID), fID, fAvatarID, fAvatarPending).Result()
	if err != nil {
		return "", e.storeErr("put avatar", err)
	}
	if s, _ := v[0].(string); s == "" {
		return "", fmt.Errorf("scanlogin: put avatar for %s: %w", userID, ErrUserNotFound)
	}
	current, _ := v[1].(string)
	pending, _ := v[2].(string)
	id := newID()
	if err := e.rdb.Set(ctx, e.avatarKey(id), packBlob(contentType, data), e.cfg.AvatarUploadTTL).Err(); err != nil {
		return "", e.storeErr("put avatar", err)
	}
	if err := e.rdb.HSet(ctx, e.userKey(userID), fAvatarPending, id).Err(); err != nil {
		return "", e.storeErr("put avatar", err)
	}
	if pending != "" && pending != current {
		_ = e.rdb.Del(ctx, e.avatarKey(pending)).Err() // best effort: it expires anyway
	}
	return id, nil
}

// ClaimAvatar makes the user's upload avatarID their avatar: a pending upload
// becomes permanent, the previous permanent one is deleted, and the profile's
// avatar URL is set to url. Claiming the current avatar again only sets url.
// An ID that is not the user's own upload, or an upload that has expired, is
// ErrAvatarNotFound.
// Errors: ErrUserNotFound, ErrAvatarNotFound, ErrUnavailable.
func (e *Engine) ClaimAvatar(ctx context.Context, userID, avatarID, url string) (*User, error) {
	if !validID(userID) {
		return nil, fmt.Errorf("scanlogin: claim avatar: %w", ErrUserNotFound)
	}
	if !validID(avatarID) {
		return nil, fmt.Errorf("scanlogin: claim avatar: %w", ErrAvatarNotFound)
	}
	v, err := e.rdb.HMGet(ctx, e.userKey(userID), fID, fAvatarID, fAvatarPending).Result()
	if err != nil {
		return nil, e.storeErr("claim avatar", err)
	}
	if s, _ := v[0].(string); s == "" {
		return nil, fmt.Errorf("scanlogin: claim avatar for %s: %w", userID, ErrUserNotFound)
	}
	current, _ := v[1].(string)
	pending, _ := v[2].(string)
	switch avatarID {
	case current:
	case pending:
		// PERSIST answers false for a key that has no TTL as well as for a
		// missing one: tell them apart by EXISTS.
		if _, err := e.rdb.Persist(ctx, e.avatarKey(avatarID)).Result(); err != nil {
			return nil, e.storeErr("claim avatar", err)
		}
		n, err := e.rdb.Exists(ctx, e.avatarKey(avatarID)).Result()
		if err != nil {
			return nil, e.storeErr("claim avatar", err)
		}
		if n == 0 {
			return nil, fmt.Errorf("scanlogin: claim avatar %s: expired: %w", avatarID, ErrAvatarNotFound)
		}
	default:
		return nil, fmt.Errorf("scanlogin: claim avatar %s for %s: %w", avatarID, userID, ErrAvatarNotFound)
	}
	res, err := e.scripts.claimAvatar.Run(ctx, e.rdb, []string{e.userKey(userID)},
		avatarID, truncate(url, 1024), strconv.FormatInt(ms(e.now()), 10)).StringSlice()
	if isNil(err) {
		return nil, fmt.Errorf("scanlogin: claim avatar for %s: %w", userID, ErrUserNotFound)
	}
	if err != nil {
		return nil, e.storeErr("claim avatar", err)
	}
	if current != "" && current != avatarID {
		_ = e.rdb.Del(ctx, e.avatarKey(current)).Err() // best effort: nothing refers to it now
	}
	return userFromFields(pairs(res)), nil
}

// claimAvatarLua records the claimed avatar on an existing user: ARGV[1] the
// avatar ID, ARGV[2] its URL, ARGV[3] now (ms).
const claimAvatarLua = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'avid', ARGV[1], 'avatar', ARGV[2], 'ua', ARGV[3])
if redis.call('HGET', KEYS[1], 'avpend') == ARGV[1] then redis.call('HDEL', KEYS[1], 'avpend') end
return redis.call('HGETALL', KEYS[1])
`

// DropAvatar deletes the user's permanent uploaded avatar, for when the
// profile stops referring to it (an avatar URL that is not an upload of ours).
// Errors: ErrUnavailable.
func (e *Engine) DropAvatar(ctx context.Context, userID string) error {
	if !validID(userID) {
		return nil
	}
	id, err := e.rdb.HGet(ctx, e.userKey(userID), fAvatarID).Result()
	if isNil(err) || id == "" {
		return nil
	}
	if err != nil {
		return e.storeErr("drop avatar", err)
	}
	if err := e.rdb.HDel(ctx, e.userKey(userID), fAvatarID).Err(); err != nil {
		return e.storeErr("drop avatar", err)
	}
	if err := e.rdb.Del(ctx, e.avatarKey(id)).Err(); err != nil {
		return e.storeErr("drop avatar", err)
	}
	return nil
}
