// Package sqlstore is the durable store: users, their WeChat identities,
// profiles (nickname, avatar image, phone), and the sign-in history, in
// PostgreSQL (several instances) or SQLite (one instance, the demo).
//
// It holds what must never be lost or split; Redis keeps scenes, sessions
// and tokens, and may cache what this package stores.
// An identity (AppID + OpenID) is a primary key, so two concurrent first
// logins, or a Redis failover, can never create a second user for one WeChat
// account.
//
// One set of queries serves both databases through database/sql: pgx's
// stdlib driver for PostgreSQL, modernc.org/sqlite (pure Go, no cgo) for
// SQLite; both accept $1-style placeholders, ON CONFLICT and partial
// indexes. The schema is versioned migrations (migrations/*.sql, embedded)
// applied by goose when the store is opened; on PostgreSQL an advisory lock
// lets several instances start at once.
//
// Every call is bounded by Config.Timeout. A database that is down or hung
// yields an error wrapping scanlogin.ErrUnavailable, and the pool
// reconnects by itself when the database returns. A call cut by its bound
// while the database answered other calls of the store (it waited for a
// connection, or for a CPU, of this process or of the database) wraps
// scanlogin.ErrOverloaded instead: retry shortly, the database is not down
// (Store.fail, docs/ARCHITECTURE.md#the-database). Config.Observe and
// Store.Stats let the server export metrics without this package knowing
// Prometheus. MigrateRedis copies users from a Redis of the previous
// version, where they lived before this store existed.
//
// It imports scanlogin only for its sentinel errors and must not know HTTP.
package sqlstore
