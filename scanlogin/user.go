package scanlogin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Identity is a WeChat account: an OpenID is unique per AppID; the
// UnionID, when WeChat gives one, is the same across a developer's apps.
type Identity struct{ AppID, OpenID, UnionID string }

// User is a person with their profile and the identity they were found by
// (when read by ID: their first identity). It never carries the session key.
type User struct {
	ID string
	Identity
	Nickname  string
	AvatarURL string
	// AvatarID is the uploaded avatar the profile claimed, or "".
	AvatarID string
	// Phone is the number as WeChat verified it; PhoneVerifiedAt is when
	// (zero when there is no phone).
	Phone           string
	PhoneVerifiedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// HasPhone reports whether the user has bound a phone number.
func (u *User) HasPhone() bool { return u.Phone != "" }

// LoginInfo is what a verified code2Session answer gives.
type LoginInfo struct{ OpenID, UnionID, SessionKey string }

// ProfileUpdate changes the non-nil fields.
type ProfileUpdate struct {
	Nickname, AvatarURL *string
	// AvatarID, when set, claims that upload of the user's as their avatar
	// ("" releases the current one); the previously claimed upload is
	// deleted. The caller sets AvatarURL to match.
	AvatarID *string
}

// Avatar is an uploaded avatar image.
type Avatar struct {
	ID, UserID, ContentType string
	// SHA256 is the image's hash, hex: a strong ETag.
	SHA256 string
	Data   []byte // only from UserStore.Avatar
	Size   int
	// ClaimedAt is when a profile save made it the user's avatar; zero
	// while unclaimed.
	CreatedAt, ClaimedAt time.Time
}

// SignInKind says how a user signed in.
type SignInKind string

const (
	// SignInRedeem: a browser redeemed a confirmed scene; Client is the
	// scene ID.
	SignInRedeem SignInKind = "redeem"
	// SignInOIDC: an OpenID Connect client received tokens; Client is its
	// client ID.
	SignInOIDC SignInKind = "oidc"
)

// SignIn is one entry of the sign-in history.
type SignIn struct {
	ID        string // set by the store
	UserID    string
	At        time.Time // zero: now
	Kind      SignInKind
	Client    string // scene ID or OIDC client ID
	SessionID string // the web session it started, if any
	IP        string
	UserAgent string
}

// UserStore is the durable store of users, their profiles, avatars and
// sign-in history (package sqlstore implements it on PostgreSQL and
// SQLite). The engine keeps only a cache of users in Redis; the store is
// the truth, so losing Redis never loses or splits a user.
//
// Every method returns an error matching ErrUnavailable when the store
// cannot be reached in time, or ErrOverloaded when a call ran out of time
// while the store answered others (it is busy, not down); ErrUserNotFound
// and ErrAvatarNotFound are answers.
type UserStore interface {
	// LoginUser finds the user with the identity or creates one: two
	// concurrent first logins of one identity yield one user, and created
	// is true for exactly one of them.
	LoginUser(ctx context.Context, id Identity) (u *User, created bool, err error)
	User(ctx context.Context, id string) (*User, error)
	UpdateProfile(ctx context.Context, userID string, p ProfileUpdate) (*User, error)
	SetPhone(ctx context.Context, userID, phone string) (*User, error)
	// PutAvatar stores an unclaimed upload; a profile save claims it.
	PutAvatar(ctx context.Context, userID, contentType string, data []byte) (*Avatar, error)
	Avatar(ctx context.Context, id string) (*Avatar, error)
	// RecordSignIns appends entries to the sign-in history, as one write
	// (one commit) when it can, and returns one error per entry (nil:
	// written): a bad entry fails alone.
	RecordSignIns(ctx context.Context, ins []SignIn) []error
	Ping(ctx context.Context) error
}

// Keys and fields of the user cache (a hash, see putUserLua) and of the
// session key beside it.
const (
	fID, fAppID, fOpenID, fUnionID, fNickname, fAvatar = "id", "aid", "oid", "unid", "nick", "avatar"
	fAvatarID, fPhone, fPhoneVerified, fCreated        = "avid", "phone", "pva", "ca"
	fUpdated                                           = "ua"
)

// LoginUser finds the user with info.OpenID (of Config.AppID) in the store
// or creates one there; the session key is sealed into Redis and the user
// cached, in one round trip.
// Errors: ErrUnavailable, ErrOverloaded.
func (e *Engine) LoginUser(ctx context.Context, info LoginInfo) (*User, bool, error) {
	if info.OpenID == "" {
		return nil, false, errors.New("scanlogin: login user: empty openid")
	}
	u, created, err := e.users.LoginUser(ctx, Identity{AppID: e.cfg.AppID, OpenID: info.OpenID, UnionID: info.UnionID})
	if err != nil {
		return nil, false, err
	}
	sealed := ""
	if info.SessionKey != "" {
		sealed = e.sealer.seal(info.SessionKey, u.ID)
	}
	if err := e.cacheUser(ctx, u, sealed); err != nil {
		if sealed != "" {
			return nil, false, err // the session key must be kept
		}
		e.log.Debug("user cache write failed", "user_id", u.ID, "err", err)
	}
	return u, created, nil
}

// User returns a user by ID: from the cache in Redis, else from the store
// (and then cached). The cache is what keeps a database round trip off the
// poll and redeem paths.
// Errors: ErrUserNotFound, ErrUnavailable, ErrOverloaded.
func (e *Engine) User(ctx context.Context, id string) (*User, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: user: %w", ErrUserNotFound)
	}
	m, err := e.rdb.HGetAll(ctx, e.userCacheKey(id)).Result()
	if err != nil {
		return nil, e.storeErr("user", err)
	}
	if m[fID] == id {
		return userFromFields(m), nil
	}
	u, err := e.users.User(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := e.cacheUser(ctx, u, ""); err != nil {
		e.log.Debug("user cache write failed", "user_id", id, "err", err)
	}
	return u, nil
}

// UpdateUser sets the non-nil profile fields in the store and refreshes
// the cache. Errors: ErrUserNotFound; ErrAvatarNotFound when p.AvatarID
// names no upload of the user's; ErrUnavailable, ErrOverloaded.
func (e *Engine) UpdateUser(ctx context.Context, id string, p ProfileUpdate) (*User, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: update user: %w", ErrUserNotFound)
	}
	if p.Nickname != nil {
		n := truncate(*p.Nickname, maxNickname)
		p.Nickname = &n
	}
	if p.AvatarURL != nil {
		a := truncate(*p.AvatarURL, maxAvatarURL)
		p.AvatarURL = &a
	}
	u, err := e.users.UpdateProfile(ctx, id, p)
	if err != nil {
		return nil, err
	}
	e.refreshCache(ctx, u)
	return u, nil
}

// SetPhone records the number WeChat verified for the user ("" removes
// it). Errors: ErrUserNotFound, ErrUnavailable, ErrOverloaded.
func (e *Engine) SetPhone(ctx context.Context, id, phone string) (*User, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: set phone: %w", ErrUserNotFound)
	}
	u, err := e.users.SetPhone(ctx, id, truncate(phone, 32))
	if err != nil {
		return nil, err
	}
	e.refreshCache(ctx, u)
	return u, nil
}

// refreshCache writes a changed user to the cache. Should that fail, the
// cached copy is deleted instead; should that fail too, the stale copy
// lives until its TTL (logged). The store has the change already, so this
// goes on if the caller has gone, within one bound for both writes.
func (e *Engine) refreshCache(ctx context.Context, u *User) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if err := e.cacheUser(ctx, u, ""); err == nil {
		return
	}
	if err := e.rdb.Del(ctx, e.userCacheKey(u.ID)).Err(); err != nil {
		e.log.Warn("user cache: stale entry could not be dropped", "user_id", u.ID, "err", err)
	}
}

// cacheUser writes u to the cache unless a newer copy is there, and the
// sealed session key beside it when given.
func (e *Engine) cacheUser(ctx context.Context, u *User, sealedSessionKey string) error {
	args := []any{e.cfg.UserCacheTTL.Milliseconds(), msOrZero(u.UpdatedAt), sealedSessionKey, e.cfg.MPTokenTTL.Milliseconds(),
		fID, u.ID, fAppID, u.AppID, fOpenID, u.OpenID, fUnionID, u.UnionID, fNickname, u.Nickname,
		fAvatar, u.AvatarURL, fAvatarID, u.AvatarID, fPhone, u.Phone,
		fPhoneVerified, msOrZero(u.PhoneVerifiedAt), fCreated, msOrZero(u.CreatedAt), fUpdated, msOrZero(u.UpdatedAt)}
	err := e.scripts.putUser.Run(ctx, e.rdb, []string{e.userCacheKey(u.ID), e.sessionKeyKey(u.ID)}, args...).Err()
	if err != nil && !isNil(err) {
		return e.storeErr("cache user", err)
	}
	return nil
}

// putUserLua: KEYS[1] the cache hash, KEYS[2] the sealed session key.
// ARGV: cache TTL ms, the user's updated_at ms, sealed session key or ”,
// its TTL ms, then field/value pairs. A copy whose updated_at is older than
// the cached one's is not written: a reader that missed the cache and read
// the store before a profile save cannot put the old profile back after
// the save wrote the new one.
const putUserLua = `
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) end
local cur = redis.call('HGET', KEYS[1], 'ua')
if cur and tonumber(cur) > tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`

// SessionKey returns the user's WeChat session_key, decrypted, or "" if none
// is stored (it lives in Redis for Config.MPTokenTTL after the login that
// brought it). For server-side use only (checking signatures, decrypting
// open data); never send it to a client.
// Errors: ErrUserNotFound (an invalid ID), ErrUnavailable.
func (e *Engine) SessionKey(ctx context.Context, userID string) (string, error) {
	if !validID(userID) {
		return "", fmt.Errorf("scanlogin: session key: %w", ErrUserNotFound)
	}
	sealed, err := e.rdb.Get(ctx, e.sessionKeyKey(userID)).Result()
	if isNil(err) {
		return "", nil
	}
	if err != nil {
		return "", e.storeErr("session key", err)
	}
	plain, err := e.sealer.open(sealed, userID)
	if err != nil {
		// Wrong SessionKeySecret or tampered data; never log the value.
		return "", fmt.Errorf("scanlogin: open session key of %s: %w", userID, err)
	}
	return plain, nil
}

// PutAvatar stores an avatar image uploaded by the user, unclaimed: a
// profile save whose ProfileUpdate.AvatarID names it makes it the user's
// avatar, and uploads nobody claims are collected (the store's
// DeleteUnclaimedAvatars). Errors: ErrUserNotFound, ErrUnavailable,
// ErrOverloaded.
func (e *Engine) PutAvatar(ctx context.Context, userID, contentType string, data []byte) (*Avatar, error) {
	if !validID(userID) {
		return nil, fmt.Errorf("scanlogin: put avatar: %w", ErrUserNotFound)
	}
	return e.users.PutAvatar(ctx, userID, contentType, data)
}

// Avatar returns a stored avatar with its image.
// Errors: ErrAvatarNotFound, ErrUnavailable, ErrOverloaded.
func (e *Engine) Avatar(ctx context.Context, avatarID string) (*Avatar, error) {
	if !validID(avatarID) {
		return nil, fmt.Errorf("scanlogin: avatar: %w", ErrAvatarNotFound)
	}
	return e.users.Avatar(ctx, avatarID)
}

// PingUsers reports whether the user store answers: ErrUnavailable when
// it does not, ErrOverloaded when it answers others but not this call in
// time.
func (e *Engine) PingUsers(ctx context.Context) error { return e.users.Ping(ctx) }

// msOrZero is t in Unix ms, 0 for the zero time.
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

func msField(m map[string]string, k string) time.Time {
	v, _ := strconv.ParseInt(m[k], 10, 64)
	return fromMS(v)
}

func userFromFields(m map[string]string) *User {
	return &User{
		ID:              m[fID],
		Identity:        Identity{AppID: m[fAppID], OpenID: m[fOpenID], UnionID: m[fUnionID]},
		Nickname:        m[fNickname],
		AvatarURL:       m[fAvatar],
		AvatarID:        m[fAvatarID],
		Phone:           m[fPhone],
		PhoneVerifiedAt: msField(m, fPhoneVerified),
		CreatedAt:       msField(m, fCreated),
		UpdatedAt:       msField(m, fUpdated),
	}
}

func pairs(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}
