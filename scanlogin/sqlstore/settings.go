package sqlstore

import (
	"context"
	"errors"
)

// SharedSetting returns the value stored under name, storing value first
// if there is none: every instance on one database gets the value of the
// first that asked, even when several ask at once. Errors:
// scanlogin.ErrUnavailable, scanlogin.ErrOverloaded.
func (s *Store) SharedSetting(ctx context.Context, name string, value []byte) (stored []byte, err error) {
	if name == "" || len(value) == 0 {
		return nil, errors.New("sqlstore: shared setting: empty name or value")
	}
	err = s.call(ctx, OpSetting, func(ctx context.Context) error {
		if _, err := s.w.ExecContext(ctx, `INSERT INTO settings (name, value, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, value, ms(s.now())); err != nil {
			return err
		}
		// Read through the writer: a SQLite reader could be a snapshot older
		// than the insert a racer just made.
		return s.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&stored)
	})
	return stored, err
}
