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

// maxSignInsPerStatement bounds one INSERT: on SQLite, 8 parameters a row
// stay far below its limit.
const maxSignInsPerStatement = 256

// RecordSignIns appends the sign-ins to the history in one statement, so
// one commit (one WAL flush on PostgreSQL) for the lot:
// docs/ARCHITECTURE.md#the-database. Each entry's ID is generated and At
// defaults to now. It returns one error per entry, nil for those written:
// a database that is down fails them all (scanlogin.ErrUnavailable), and so
// does one too busy to answer the statement in time
// (scanlogin.ErrOverloaded: writing each entry alone would only add to its
// load); when the database refuses the statement, the entries are written
// one by one, so that a bad one fails alone (scanlogin.ErrUserNotFound for
// an entry whose user is gone) and the others are kept.
func (s *Store) RecordSignIns(ctx context.Context, ins []SignIn) []error {
	errs := make([]error, len(ins))
	rows := make([]signInRow, 0, min(len(ins), maxSignInsPerStatement))
	flush := func() {
		if len(rows) > 0 {
			s.insertSignIns(ctx, rows, errs)
			rows = rows[:0]
		}
	}
	for i, in := range ins {
		if in.Kind != SignInRedeem && in.Kind != SignInOIDC {
			errs[i] = errors.New("sqlstore: record sign-in: unknown kind " + string(in.Kind))
			continue
		}
		if in.At.IsZero() {
			in.At = s.now()
		}
		ua := in.UserAgent
		if len(ua) > maxUserAgent {
			ua = ua[:maxUserAgent]
		}
		rows = append(rows, signInRow{i: i, id: newID(), userID: in.UserID, at: ms(in.At), kind: string(in.Kind),
			client: in.Client, sessionID: in.SessionID, ip: in.IP, userAgent: toValidUTF8(ua)})
		if len(rows) == maxSignInsPerStatement {
			flush()
		}
	}
	flush()
	return errs
}

// signInRow is an entry of RecordSignIns as stored, with its index in the
// call.
type signInRow struct {
	i                                                  int
	id, userID, kind, client, sessionID, ip, userAgent string
	at                                                 int64
}

// signInColumns are the columns of sign_ins every insert fills, in the
// order of signInRow.args.
const signInColumns = `sign_ins (id, user_id, at, kind, client_id, session_id, ip, user_agent)`

func (r signInRow) args() []any {
	return []any{r.id, r.userID, r.at, r.kind, r.client, r.sessionID, r.ip, r.userAgent}
}

// insertSignIns writes rows in one statement, else one by one (see
// RecordSignIns), setting errs of their entries.
func (s *Store) insertSignIns(ctx context.Context, rows []signInRow, errs []error) {
	query, args := s.signInsStatement(rows)
	// The foreign key refuses an entry whose user is gone.
	err := s.call(ctx, OpRecordSignIns, func(ctx context.Context) error {
		_, err := s.w.ExecContext(ctx, query, args...)
		return err
	})
	if err == nil || outage(err) || ctx.Err() != nil {
		for _, r := range rows {
			errs[r.i] = err
		}
		return
	}
	// Refused: one by one, unless the database goes away, or falls behind,
	// meanwhile.
	for k, r := range rows {
		errs[r.i] = s.insertSignIn(ctx, r)
		if outage(errs[r.i]) || ctx.Err() != nil {
			for _, rest := range rows[k+1:] {
				errs[rest.i] = errs[r.i]
			}
			return
		}
	}
}

// signInsStatement is one INSERT of rows. PostgreSQL gets an array a
// column, so that one statement serves every batch size: with a VALUES row
// per entry it planned and kept one statement per size and connection, up
// to 80 MB a connection for the sizes 1 to 256. SQLite prepares every call
// anyway; it gets ?s, not $Ns, which it looks up by name among those seen
// so far (256 rows: 50-80 ms, against 2 ms).
func (s *Store) signInsStatement(rows []signInRow) (string, []any) {
	if s.dialect == Postgres {
		n := len(rows)
		ids, users, ats := make([]string, n), make([]string, n), make([]int64, n)
		kinds, clients, sessions := make([]string, n), make([]string, n), make([]string, n)
		ips, uas := make([]string, n), make([]string, n)
		for k, r := range rows {
			ids[k], users[k], ats[k], kinds[k] = r.id, r.userID, r.at, r.kind
			clients[k], sessions[k], ips[k], uas[k] = r.client, r.sessionID, r.ip, r.userAgent
		}
		return `INSERT INTO ` + signInColumns + ` SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[],
			$4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
			[]any{ids, users, ats, kinds, clients, sessions, ips, uas}
	}
	var q strings.Builder
	q.WriteString("INSERT INTO " + signInColumns + " VALUES ")
	args := make([]any, 0, len(rows)*8)
	for k, r := range rows {
		if k > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.args()...)
	}
	return q.String(), args
}

// insertSignIn writes one entry, telling a missing user apart.
func (s *Store) insertSignIn(ctx context.Context, r signInRow) error {
	return s.call(ctx, OpRecordSignIn, func(ctx context.Context) error {
		res, err := s.w.ExecContext(ctx, `INSERT INTO `+signInColumns+`
			SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)`, r.args()...)
		return mustAffect(res, err, "record sign-in", scanlogin.ErrUserNotFound)
	})
}

// SignIns returns the user's latest sign-ins, newest first, at most limit
// (default 50). Errors: scanlogin.ErrUnavailable, scanlogin.ErrOverloaded.
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
// returns how many entries. Errors: scanlogin.ErrUnavailable,
// scanlogin.ErrOverloaded.
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
// Errors: scanlogin.ErrUnavailable, scanlogin.ErrOverloaded.
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
