package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/scanlogin/scanlogin/scanlogin"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Dialect names the database behind a Store.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Config tunes a Store. The zero value is usable.
type Config struct {
	// Timeout bounds every call, waiting for a connection included, so a
	// database that is down or hung fails a request well within 2 s.
	// Default 1.5 s.
	Timeout time.Duration
	// MaxConns caps open connections: the PostgreSQL pool (default 10), or
	// SQLite's readers (default 4; SQLite always has one writer besides).
	MaxConns int
	// Observe, when set, is called after every call with the method's name
	// (the Op* constants), its duration and the error it returns (nil on
	// success). Database failures are the errors that match
	// scanlogin.ErrUnavailable or scanlogin.ErrOverloaded (see Store.fail);
	// ErrUserNotFound and the like are answers.
	Observe func(op string, d time.Duration, err error)
	// Now is the clock for created/updated times. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger // default: discard
}

// Names of calls as given to Config.Observe.
const (
	OpLoginUser              = "login_user"
	OpUser                   = "user"
	OpUpdateProfile          = "update_profile"
	OpSetPhone               = "set_phone"
	OpPutAvatar              = "put_avatar"
	OpAvatar                 = "avatar"
	OpDeleteUnclaimedAvatars = "delete_unclaimed_avatars"
	// OpRecordSignIns is a batch of the sign-in history (one statement);
	// OpRecordSignIn one entry, written alone after the database refused
	// its batch.
	OpRecordSignIns       = "record_sign_ins"
	OpRecordSignIn        = "record_sign_in"
	OpSignIns             = "sign_ins"
	OpDeleteSignInsBefore = "delete_sign_ins_before"
	OpCounts              = "counts"
	OpPing                = "ping"
	OpImportUser          = "import_user"
	OpSetting             = "setting"
)

// Store is the durable store. It is safe for concurrent use.
type Store struct {
	dialect Dialect
	// w takes every write. On PostgreSQL it is the one pool (r == w); on
	// SQLite it has a single connection, so writers queue in Go instead of
	// spinning on SQLITE_BUSY, while r's connections read in parallel (WAL).
	w, r    *sql.DB
	timeout time.Duration
	observe func(string, time.Duration, error)
	now     func() time.Time
	log     *slog.Logger
	// answers counts the calls the database answered (see answered), so
	// that a call cut by a time bound can tell whether the database
	// answered others meanwhile (see fail).
	answers atomic.Uint64
}

// Open connects to the database named by rawURL, applies pending
// migrations and returns the store. URLs: postgres://... or
// postgresql://... (any pgx connection string in URL form), and
// sqlite:///absolute/path.db or sqlite://relative/path.db (the directory is
// created). Errors: scanlogin.ErrUnavailable when the database cannot be
// reached; others for a bad URL or a failed migration.
func Open(ctx context.Context, rawURL string, cfg Config) (*Store, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 1500 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{timeout: cfg.Timeout, observe: cfg.Observe, now: cfg.Now, log: cfg.Logger}
	var err error
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		err = s.openPostgres(rawURL, cfg)
	case strings.HasPrefix(rawURL, "sqlite://"):
		err = s.openSQLite(strings.TrimPrefix(rawURL, "sqlite://"), cfg)
	default:
		return nil, errors.New("sqlstore: database URL must start with postgres://, postgresql:// or sqlite://")
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openPostgres(rawURL string, cfg Config) error {
	pc, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return errors.New("sqlstore: invalid postgres URL")
	}
	if pc.ConnectTimeout <= 0 || pc.ConnectTimeout > cfg.Timeout {
		pc.ConnectTimeout = cfg.Timeout
	}
	n := cfg.MaxConns
	if n <= 0 {
		n = 10
	}
	db := stdlib.OpenDB(*pc)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	// Recycle connections now and then, so a failover or a restarted
	// PostgreSQL behind a proxy is picked up without an error.
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.dialect, s.w, s.r = Postgres, db, db
	return nil
}

func (s *Store) openSQLite(path string, cfg Config) error {
	if path == "" || strings.ContainsAny(path, "?#") {
		return errors.New("sqlstore: sqlite URL must be sqlite:///absolute/path.db or sqlite://relative/path.db")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlstore: sqlite directory: %w", err)
	}
	// Every connection: WAL (readers never block the writer), a busy
	// timeout for another process holding the lock (a backup), foreign keys
	// (SQLite leaves them off by default), and BEGIN IMMEDIATE so a
	// transaction takes the write lock up front instead of failing when it
	// upgrades.
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	n := cfg.MaxConns
	if n <= 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.dialect, s.w, s.r = SQLite, w, r
	return nil
}

// lockID keeps scanlogin's migration lock apart from other goose users of
// the same database: the first 8 bytes of "scanlogin" as a number.
const lockID = 0x7363616e6c6f6769

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		goose.WithTableName("scanlogin_schema_version"),
		goose.WithDisableGlobalRegistry(true),
	}
	dialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		// Instances starting together take turns; the rest find nothing to do.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.w, fsys, opts...)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	answers := s.answers.Load()
	results, err := p.Up(ctx)
	if err != nil {
		return s.fail("migrate", ctx, ctx, answers, err)
	}
	for _, r := range results {
		s.log.Info("database migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// Dialect tells which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the connections.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Ping checks that the database answers, for a readiness probe.
// Errors: scanlogin.ErrUnavailable, scanlogin.ErrOverloaded (the database
// answers, but not this call in time: not an outage, see fail).
func (s *Store) Ping(ctx context.Context) error {
	return s.call(ctx, OpPing, func(ctx context.Context) error {
		if err := s.w.PingContext(ctx); err != nil {
			return err
		}
		if s.r != s.w {
			return s.r.PingContext(ctx)
		}
		return nil
	})
}

// PoolStats is the state of the connection pools (both of SQLite's added
// together), for metrics.
type PoolStats struct {
	MaxOpen, Open, InUse, Idle int
	// WaitCount and WaitDuration are totals since Open: calls that waited
	// for a free connection, and how long they waited.
	WaitCount    int64
	WaitDuration time.Duration
}

// Stats returns the pools' current state.
func (s *Store) Stats() PoolStats {
	var ps PoolStats
	add := func(d sql.DBStats) {
		ps.MaxOpen += d.MaxOpenConnections
		ps.Open += d.OpenConnections
		ps.InUse += d.InUse
		ps.Idle += d.Idle
		ps.WaitCount += d.WaitCount
		ps.WaitDuration += d.WaitDuration
	}
	add(s.w.Stats())
	if s.r != s.w {
		add(s.r.Stats())
	}
	return ps
}

// call runs f under the store's timeout, turns database failures into
// ErrUnavailable or ErrOverloaded (fail), counts the calls the database
// answered, and reports the call to Config.Observe.
func (s *Store) call(ctx context.Context, op string, f func(ctx context.Context) error) error {
	start := time.Now()
	answers := s.answers.Load()
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	err := f(cctx)
	got := answered(cctx, err)
	if err != nil {
		err = s.fail(op, ctx, cctx, answers, err)
	}
	if got {
		s.answers.Add(1)
	}
	cancel()
	if s.observe != nil {
		s.observe(op, time.Since(start), err)
	}
	return err
}

// fail classifies err from op, run under callCtx (ctx and the store's
// timeout); answers is the count of answered calls when op began.
//
// Answers (not found) pass unchanged. A caller that gave up (cancelled
// ctx) gets its own context error back, not ErrUnavailable, so a client
// that hung up is not counted as an outage. A call cut by a time bound
// (the store's timeout, the caller's deadline, or the driver's connect
// timeout) is ErrOverloaded when the database answered another call of
// this store while this one waited: the database is reachable and this
// call queued for a connection, or for the CPU of this process or of the
// database, so it must not be reported as down
// (docs/ARCHITECTURE.md#the-database). When nothing answered since the
// call began, the database is hung or unreachable: ErrUnavailable. (A call
// begun shortly before the database hangs can still see an answer given to
// an earlier one, and so be ErrOverloaded; the next ones are not.) Other
// failures to reach or use the database (a refused or dropped connection,
// a database shutting down) wrap ErrUnavailable; anything else (a query
// the database rejects) is a plain error: a bug, not an outage.
func (s *Store) fail(op string, ctx, callCtx context.Context, answers uint64, err error) error {
	switch {
	case errors.Is(err, scanlogin.ErrUserNotFound), errors.Is(err, scanlogin.ErrAvatarNotFound):
		return err
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("sqlstore: %s: %w", op, ctx.Err())
	case callCtx.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		if !errors.Is(err, context.DeadlineExceeded) {
			// Cut by the bound, the driver may say only what that did (a
			// transaction already rolled back): keep the deadline in the chain.
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		if s.answers.Load() != answers {
			return fmt.Errorf("sqlstore: %s: %w: %w", op, scanlogin.ErrOverloaded, err)
		}
		return fmt.Errorf("sqlstore: %s: %w: %w", op, scanlogin.ErrUnavailable, err)
	case unavailable(err):
		return fmt.Errorf("sqlstore: %s: %w: %w", op, scanlogin.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// outage reports whether err, from a call, says the database could not
// serve it (down, hung, or not in time): ErrUnavailable or ErrOverloaded.
func outage(err error) bool {
	return errors.Is(err, scanlogin.ErrUnavailable) || errors.Is(err, scanlogin.ErrOverloaded)
}

// answered reports whether a call that ran under callCtx and returned err
// got an answer from the database: a result, not found, or an error the
// database sent back that shows it at work (a query it refused, a
// serialization failure). A call cut by its bound did not, nor one that
// failed to reach the database, nor one the database turned away for
// want of resources or because it is shutting down.
func answered(callCtx context.Context, err error) bool {
	switch {
	case err == nil, errors.Is(err, scanlogin.ErrUserNotFound), errors.Is(err, scanlogin.ErrAvatarNotFound):
		return true
	case callCtx.Err() != nil:
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "53"),
			strings.HasPrefix(pgErr.Code, "57P"), strings.HasPrefix(pgErr.Code, "58"):
			return false
		}
		return true
	}
	return !unavailable(err)
}

func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources
			"57", // operator intervention: shutdown, cannot connect now, query canceled
			"58", // system error
			"40": // serialization failure, deadlock: retryable
			return true
		}
		return false
	}
	var liteErr interface{ Code() int }
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff {
		case 5, 6, 7, 10, 13, 14: // BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN
			return true
		}
		return false
	}
	// database/sql's complaints about how it was used (a bad Scan, a bad
	// argument) are bugs; every other error failed on the way to the
	// database: a refused dial, a closed connection, a timeout.
	return !strings.HasPrefix(err.Error(), "sql: ")
}

// tx runs f in a write transaction.
func (s *Store) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64)
}
