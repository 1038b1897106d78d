package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// The store speaks the engine's types: it is the engine's
// scanlogin.UserStore.
type (
	Identity      = scanlogin.Identity
	User          = scanlogin.User
	ProfileUpdate = scanlogin.ProfileUpdate
)

var _ scanlogin.UserStore = (*Store)(nil)

// newID returns 128 random bits as 32 lowercase hex characters, the
// engine's ID format.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go >= 1.24)
	return hex.EncodeToString(b)
}

const userColumns = `u.id, u.nickname, u.avatar_url, u.phone, u.phone_verified_at, u.created_at, u.updated_at,
	COALESCE(i.app_id, ''), COALESCE(i.open_id, ''), COALESCE(i.union_id, ''), COALESCE(a.id, '')`

const userFrom = `FROM users u
	LEFT JOIN avatars a ON a.user_id = u.id AND a.claimed_at IS NOT NULL`

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func scanUser(row *sql.Row) (*User, error) {
	var u User
	var verified, created, updated sql.NullInt64
	err := row.Scan(&u.ID, &u.Nickname, &u.AvatarURL, &u.Phone, &verified, &created, &updated,
		&u.AppID, &u.OpenID, &u.UnionID, &u.AvatarID)
	if err != nil {
		return nil, err
	}
	u.PhoneVerifiedAt, u.CreatedAt, u.UpdatedAt = fromMS(verified), fromMS(created), fromMS(updated)
	return &u, nil
}

func userByIdentity(ctx context.Context, q querier, appID, openID string) (*User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` `+userFrom+`
	JOIN identities i ON i.user_id = u.id
	WHERE i.app_id = $1 AND i.open_id = $2`, appID, openID))
}

func userByID(ctx context.Context, q querier, id string) (*User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` `+userFrom+`
	LEFT JOIN identities i ON i.user_id = u.id
	WHERE u.id = $1
	ORDER BY i.created_at, i.app_id, i.open_id
	LIMIT 1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: user %s: %w", id, scanlogin.ErrUserNotFound)
	}
	return u, err
}

// LoginUser finds the user with the identity or creates one: two
// concurrent first logins of one identity yield one user, and created is
// true for exactly one of them. A UnionID given now is kept.
// Errors: scanlogin.ErrUnavailable, scanlogin.ErrOverloaded.
func (s *Store) LoginUser(ctx context.Context, id Identity) (u *User, created bool, err error) {
	if id.OpenID == "" {
		return nil, false, errors.New("sqlstore: login user: empty openid")
	}
	err = s.call(ctx, OpLoginUser, func(ctx context.Context) error {
		u, created, err = s.loginUser(ctx, id)
		return err
	})
	return u, created, err
}

func (s *Store) loginUser(ctx context.Context, id Identity) (*User, bool, error) {
	// The common case, a returning user, is one read.
	u, err := userByIdentity(ctx, s.r, id.AppID, id.OpenID)
	if err == nil {
		if id.UnionID != "" && id.UnionID != u.UnionID {
			_, err = s.w.ExecContext(ctx, `UPDATE identities SET union_id = $3 WHERE app_id = $1 AND open_id = $2`,
				id.AppID, id.OpenID, id.UnionID)
			u.UnionID = id.UnionID
		}
		return u, false, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, err
	}
	// A first login: insert the user and claim the identity in one
	// transaction. A racer that claimed it first makes our insert a no-op
	// (PostgreSQL waits for its commit; SQLite's single writer runs after
	// it), and we roll back and read the winner.
	now := ms(s.now())
	uid := newID()
	won := false
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, created_at, updated_at) VALUES ($1, $2, $2)`, uid, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO identities (app_id, open_id, union_id, user_id, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (app_id, open_id) DO NOTHING`,
			id.AppID, id.OpenID, id.UnionID, uid, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errLost
		}
		won = true
		u, err = userByIdentity(ctx, tx, id.AppID, id.OpenID)
		return err
	})
	if errors.Is(err, errLost) {
		u, err = userByIdentity(ctx, s.w, id.AppID, id.OpenID)
		if err == nil && id.UnionID != "" && id.UnionID != u.UnionID {
			_, err = s.w.ExecContext(ctx, `UPDATE identities SET union_id = $3 WHERE app_id = $1 AND open_id = $2`,
				id.AppID, id.OpenID, id.UnionID)
			u.UnionID = id.UnionID
		}
		return u, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return u, won, nil
}

// errLost: another login claimed the identity first.
var errLost = errors.New("identity claimed by another login")

// User returns a user by ID. Errors: scanlogin.ErrUserNotFound,
// scanlogin.ErrUnavailable, scanlogin.ErrOverloaded.
func (s *Store) User(ctx context.Context, id string) (u *User, err error) {
	err = s.call(ctx, OpUser, func(ctx context.Context) error {
		u, err = userByID(ctx, s.r, id)
		return err
	})
	return u, err
}

// nextUpdatedAt is the updated_at of a changed user row: now ($4), or one
// millisecond past the row's if that is not earlier. It orders the row's
// versions even when instances' clocks differ or two saves share a
// millisecond, and the user cache keeps the copy with the highest
// (scanlogin's putUserLua), so it ends with what the database holds.
const nextUpdatedAt = `CASE WHEN updated_at >= $4 THEN updated_at + 1 ELSE $4 END`

// UpdateProfile sets the non-nil fields and returns the user.
// Errors: scanlogin.ErrUserNotFound; scanlogin.ErrAvatarNotFound when
// p.AvatarID names no upload of this user's; scanlogin.ErrUnavailable,
// scanlogin.ErrOverloaded.
func (s *Store) UpdateProfile(ctx context.Context, userID string, p ProfileUpdate) (u *User, err error) {
	err = s.call(ctx, OpUpdateProfile, func(ctx context.Context) error {
		return s.tx(ctx, func(tx *sql.Tx) error {
			now := ms(s.now())
			res, err := tx.ExecContext(ctx, `UPDATE users SET nickname = COALESCE($2, nickname),
				avatar_url = COALESCE($3, avatar_url), updated_at = `+nextUpdatedAt+` WHERE id = $1`,
				userID, p.Nickname, p.AvatarURL, now)
			if err := mustAffect(res, err, "update profile of "+userID, scanlogin.ErrUserNotFound); err != nil {
				return err
			}
			if p.AvatarID != nil {
				if err := claimAvatar(ctx, tx, userID, *p.AvatarID, now); err != nil {
					return err
				}
			}
			u, err = userByID(ctx, tx, userID)
			return err
		})
	})
	return u, err
}

// SetPhone records the number WeChat verified for the user now ("" removes
// it) and returns the user. Errors: scanlogin.ErrUserNotFound,
// scanlogin.ErrUnavailable, scanlogin.ErrOverloaded.
func (s *Store) SetPhone(ctx context.Context, userID, phone string) (u *User, err error) {
	err = s.call(ctx, OpSetPhone, func(ctx context.Context) error {
		return s.tx(ctx, func(tx *sql.Tx) error {
			now := ms(s.now())
			verified := sql.NullInt64{Int64: now, Valid: phone != ""}
			res, err := tx.ExecContext(ctx, `UPDATE users SET phone = $2, phone_verified_at = $3, updated_at = `+nextUpdatedAt+` WHERE id = $1`,
				userID, phone, verified, now)
			if err := mustAffect(res, err, "set phone of "+userID, scanlogin.ErrUserNotFound); err != nil {
				return err
			}
			u, err = userByID(ctx, tx, userID)
			return err
		})
	})
	return u, err
}

// mustAffect turns an update that matched no row into notFound.
func mustAffect(res sql.Result, err error, what string, notFound error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", what, notFound)
	}
	return nil
}
