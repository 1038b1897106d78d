package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// Avatar is an uploaded avatar image (Data only from Store.Avatar).
type Avatar = scanlogin.Avatar

// PutAvatar stores an image the user uploaded, unclaimed, and returns it
// without its data. A profile save claims it (ProfileUpdate.AvatarID);
// DeleteUnclaimedAvatars collects uploads nobody claimed.
// Errors: scanlogin.ErrUserNotFound, scanlogin.ErrUnavailable,
// scanlogin.ErrOverloaded.
func (s *Store) PutAvatar(ctx context.Context, userID, contentType string, data []byte) (a *Avatar, err error) {
	sum := sha256.Sum256(data)
	a = &Avatar{ID: newID(), UserID: userID, ContentType: contentType, SHA256: hex.EncodeToString(sum[:]),
		Size: len(data), CreatedAt: time.UnixMilli(ms(s.now()))}
	err = s.call(ctx, OpPutAvatar, func(ctx context.Context) error {
		res, err := s.w.ExecContext(ctx, `INSERT INTO avatars (id, user_id, content_type, data, sha256, created_at)
			SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)`,
			a.ID, userID, contentType, data, a.SHA256, ms(a.CreatedAt))
		return mustAffect(res, err, "put avatar for "+userID, scanlogin.ErrUserNotFound)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Avatar returns a stored avatar with its image, claimed or not (a client
// may show an upload before saving the profile).
// Errors: scanlogin.ErrAvatarNotFound, scanlogin.ErrUnavailable,
// scanlogin.ErrOverloaded.
func (s *Store) Avatar(ctx context.Context, id string) (a *Avatar, err error) {
	err = s.call(ctx, OpAvatar, func(ctx context.Context) error {
		a = &Avatar{ID: id}
		var created, claimed sql.NullInt64
		err := s.r.QueryRowContext(ctx, `SELECT user_id, content_type, data, sha256, created_at, claimed_at
			FROM avatars WHERE id = $1`, id).Scan(&a.UserID, &a.ContentType, &a.Data, &a.SHA256, &created, &claimed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: avatar %s: %w", id, scanlogin.ErrAvatarNotFound)
		}
		a.Size, a.CreatedAt, a.ClaimedAt = len(a.Data), fromMS(created), fromMS(claimed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// claimAvatar makes upload id the user's one claimed avatar ("" none),
// deleting the one claimed before.
func claimAvatar(ctx context.Context, tx *sql.Tx, userID, id string, now int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM avatars WHERE user_id = $1 AND claimed_at IS NOT NULL AND id <> $2`,
		userID, id); err != nil {
		return err
	}
	if id == "" {
		return nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE avatars SET claimed_at = COALESCE(claimed_at, $3) WHERE id = $1 AND user_id = $2`,
		id, userID, now)
	return mustAffect(res, err, "claim avatar "+id, scanlogin.ErrAvatarNotFound)
}

// DeleteUnclaimedAvatars deletes uploads created before the time that no
// profile claimed, and returns how many.
// Errors: scanlogin.ErrUnavailable, scanlogin.ErrOverloaded.
func (s *Store) DeleteUnclaimedAvatars(ctx context.Context, before time.Time) (n int64, err error) {
	err = s.call(ctx, OpDeleteUnclaimedAvatars, func(ctx context.Context) error {
		res, err := s.w.ExecContext(ctx, `DELETE FROM avatars WHERE claimed_at IS NULL AND created_at < $1`, ms(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
