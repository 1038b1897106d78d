package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// SignInKind says how a user signed in; SignIn is one entry of the
// sign-in history.
type (
	SignInKind = scanlogin.SignInKind
	SignIn     = scanlogin.SignIn
)

const (
	SignInRedeem = scanlogin.SignInRedeem
	SignInOIDC   = scanlogin.SignInOIDC
)

// maxUserAgent bounds what a client can make us store.
const maxUserAgent = 512

// RecordSignIn appends a sign-in to the history.
// Errors: scanlogin.ErrUserNotFound, scanlogin.ErrUnavailable.
func (s *Store) RecordSignIn(ctx context.Context, in SignIn) error {
	if in.Kind != SignInRedeem && in.Kind != SignInOIDC {
		return errors.New("sqlstore: record sign-in: unknown kind " + string(in.Kind))
	}
	if in.At.IsZero() {
		in.At = s.now()
	}
	ua := in.UserAgent
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return s.call(ctx, OpRecordSignIn, func(ctx context.Context) error {
		res, err := s.w.ExecContext(ctx, `INSERT INTO sign_ins (id, user_id, at, kind, client_id, session_id, ip, user_agent)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)`,
			newID(), in.UserID, ms(in.At), string(in.Kind), in.Client, in.SessionID, in.IP, toValidUTF8(ua))
		return mustAffect(res, err, "record sign-in of "+in.UserID, scanlogin.ErrUserNotFound)
	})
}

// SignIns returns the user's latest sign-ins, newest first, at most limit
// (default 50). Errors: scanlogin.ErrUnavailable.
func (s *Store) SignIns(ctx context.Context, userID string, limit int) (out []SignIn, err error) {
	if limit <= 0 {
		limit = 50
	}
	err = s.call(ctx, OpSignIns, func(ctx context.Context) error {
		rows, err := s.r.QueryContext(ctx, `SELECT id, at, kind, client_id, session_id, ip, user_agent
			FROM sign_ins WHERE user_id = $1 ORDER BY at DESC, id LIMIT $2`, userID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = nil
		for rows.Next() {
			in := SignIn{UserID: userID}
			var at sql.NullInt64
			var kind string
			if err := rows.Scan(&in.ID, &at, &kind, &in.Client, &in.SessionID, &in.IP, &in.UserAgent); err != nil {
				return err
			}
			in.At, in.Kind = fromMS(at), SignInKind(kind)
			out = append(out, in)
		}
		return rows.Err()
	})
	return out, err
}

// DeleteSignInsBefore deletes history older than the time (retention) and
// returns how many entries. Errors: scanlogin.ErrUnavailable.
func (s *Store) DeleteSignInsBefore(ctx context.Context, before time.Time) (n int64, err error) {
	err = s.call(ctx, OpDeleteSignInsBefore, func(ctx context.Context) error {
		res, err := s.w.ExecContext(ctx, `DELETE FROM sign_ins WHERE at < $1`, ms(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Counts is how many rows each table holds.
type Counts struct{ Users, Identities, Avatars, SignIns int64 }

// Counts counts the rows (a full scan on PostgreSQL: for the operator's
// command line and tests, not for every scrape).
// Errors: scanlogin.ErrUnavailable.
func (s *Store) Counts(ctx context.Context) (c Counts, err error) {
	err = s.call(ctx, OpCounts, func(ctx context.Context) error {
		return s.r.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM identities),
			(SELECT COUNT(*) FROM avatars), (SELECT COUNT(*) FROM sign_ins)`).
			Scan(&c.Users, &c.Identities, &c.Avatars, &c.SignIns)
	})
	return c, err
}

// toValidUTF8 keeps PostgreSQL from refusing a header cut mid-character
// or sent as Latin-1.
func toValidUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
