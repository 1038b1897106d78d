// Package scanlogin is the domain of the product: login scenes and their state
// machine on Redis, waiting for a scene to change, users found by OpenID, web
// sessions with rotating refresh tokens, mini-program login tokens, and the
// rate-limit counters every instance shares.
//
// It knows nothing of HTTP, JWT or WeChat: callers hand it an OpenID that they
// have already verified and receive users, scenes and sessions. Every method
// documents the sentinel errors it returns; Redis trouble is ErrUnavailable.
//
// # Scenes
//
// A scene is one JSON string in Redis under sl:{<scene id>}:s (its QR image
// beside it under sl:{<scene id>}:img: one hash tag, so the scripts run on
// Redis Cluster). Creation is one SET NX PX. Every transition (scan, confirm,
// cancel, redeem) is one Lua script, loaded once and re-sent on NOSCRIPT, that
// reads the scene, checks the expected state, the actor (user ID or poll token
// hash) and the deadline against the engine's injected clock, and only then
// writes the new state with version+1, the new deadline and a key TTL of
// deadline + 5 minutes, and publishes "<scene id>:<version>" on sl:wake. A
// refused transition writes and publishes nothing. Reads judge expiry too: a
// non-final scene read at or past its deadline is "expired", one version
// later than stored; nothing is written, so polling has no side effects, and
// Redis TTLs only collect the key minutes later.
//
// Deadlines follow docs/ARCHITECTURE.md#state-machine: pending lives SceneTTL; the first scan grants
// min(scan+ConfirmWindow, created+HardCap); rescans change nothing; confirmed
// must be redeemed within RedeemWindow. The poll token (256 random bits) is
// returned once and stored only as its SHA-256.
//
// # Waiting
//
// One pub/sub connection per Engine serves every waiter; messages fan out in
// process to 1-buffered channels with non-blocking sends, so a waiter costs
// no Redis connection and no Redis command while it sleeps. Pub/sub is only a
// hint: waiters register before reading and re-read on every message, after
// every (re)subscription, at the deadline and at the end of the wait. See
// wait.go. With Config.PollsPerMinute set, a Wait's first read also counts
// the poll, per presented token, under sl:{<scene id>}:p:<token hash prefix>
// in the same script (the poll limit of docs/ARCHITECTURE.md#limits): one round trip, and the
// scene itself is still never written by a poll.
//
// # Rate limits
//
// The limits of creation, login and scans are GCRA, one Lua script per
// check (limit.go): Allow for the server's limits by client IP, and the
// scan's (Config.ScansPerMinute) in the same script as its read of the
// scanner's profile. The poll limit is a fixed minute counted in the poll's
// first read. A refused event is a *LimitError saying when to come back.
//
// The subscriber is also the health check: a dropped connection, or one that
// leaves a PING unanswered for 800 ms (a hung or partitioned Redis), wakes
// every waiter; if Redis does not answer a bounded probe either, woken and
// new waits fail at once with ErrUnavailable (about 0.3 s after Redis stops,
// about 1.5 s after it hangs), and the engine recovers by itself when the
// subscription is confirmed again. Reads made while waiting carry a 2 s
// context deadline; go-redis honours it on the socket only with
// ContextTimeoutEnabled, so give the client a ReadTimeout of about 1 s for
// the same bound on a read caught mid-hang.
//
// Every other call fails as quickly as the client's round trips do: the
// engine does not bound a single round trip (the application's client
// bounds each at 1.2 s, docs/ARCHITECTURE.md#redis), but a call that goes
// on after a round trip failed (a scan past its profile read, a redeem, a
// cache refresh and its fallback) bounds all of them together by the same
// 1.2 s, so that a Redis that hangs part-way does not cost one timeout per
// round trip.
//
// # Overload
//
// A call that runs out of time inside this process (queued for a pooled
// connection past its deadline or the client's pool timeout, or cut by its
// context deadline) while the subscriber still hears from Redis fails with
// ErrOverloaded, not ErrUnavailable: an overloaded server must not report a
// healthy store as down. The client's socket timeouts, refused and dropped
// connections, and anything while the subscriber has lost Redis, are
// ErrUnavailable. The user store follows the same rule with its own
// evidence (package sqlstore: a call that ran out of time while the
// database answered other calls is ErrOverloaded).
//
// # Users and sessions
//
// Users, their profiles, avatars and sign-in history live in the durable
// store behind the UserStore interface (package sqlstore: PostgreSQL or
// SQLite), which keeps one user per WeChat identity even when two first
// logins race; this package does not import it. Redis holds a cache of each
// user under sl:user:{<id>}:c (a hash, written on login and on every profile
// change; the scan copies the scanner's nickname and avatar from it into
// the scene, so the poll and redeem paths cost neither the database nor
// another Redis read), expiring after Config.UserCacheTTL; a copy older than the cached
// one is never written over it. The WeChat session_key stays in Redis under
// sl:user:{<id>}:sk, sealed with AES-256-GCM (Config.SessionKeySecret, the
// user ID as associated data), for as long as a mini-program token lasts;
// only SessionKey returns it. A redeem's sign-in is written to the store's
// history in the background, so a database outage costs history entries,
// never a login whose user is cached.
//
// Web sessions live under sl:sess:{<id>} with a per-user index. Refresh
// tokens are "<session id>.<secret>", stored as hashes, and rotate on every
// use; a spent token presented again revokes the session.
//
// Mini-program login tokens are "<user id>.<secret>", not JWTs: only the
// server ever reads them, each use is checked against Redis anyway, and
// revocation is deleting one key (sl:user:{<user id>}:mpt:<sha256 of
// token>, in the user's slot, so that ScanWithToken checks the token, the
// scan limit and the user cache in one script). Tokens of the form before
// (the secret alone, under sl:mpt:{<sha256 of token>}) are accepted until
// they expire (docs/ARCHITECTURE.md#tokens).
package scanlogin
