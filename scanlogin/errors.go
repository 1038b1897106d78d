package scanlogin

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors. Methods wrap them with context; match with errors.Is.
var (
	ErrSceneNotFound    = errors.New("scene not found")
	ErrInvalidSceneID   = errors.New("invalid scene id")
	ErrInvalidPollToken = errors.New("invalid poll token")
	ErrAlreadyScanned   = errors.New("scene already scanned by another user")
	ErrNotScanner       = errors.New("user is not the scanner of the scene")
	ErrNotScanned       = errors.New("scene not scanned yet")
	ErrNotConfirmed     = errors.New("scene not confirmed yet")
	ErrAlreadyRedeemed  = errors.New("scene already redeemed")
	// ErrRedeemFailed: the scene was spent but its session could not be
	// created; final, the user must start again (see RedeemScene).
	ErrRedeemFailed = errors.New("scene redeemed but no session could be created")
	ErrSceneFinal   = errors.New("scene is final")
	ErrSceneExpired = errors.New("scene expired")
	// ErrMatchMismatch: the phone picked the wrong number; the scene is now
	// cancelled.
	ErrMatchMismatch = errors.New("number match mismatch")
	// ErrMatchRequired: number match is on and the scanner confirmed
	// without a pick; nothing changed.
	ErrMatchRequired = errors.New("number match pick required")
	ErrUserNotFound  = errors.New("user not found")
	// ErrAvatarNotFound: no avatar is stored under that ID.
	ErrAvatarNotFound = errors.New("avatar not found")
	// ErrSessionNotFound: the session is unknown, revoked or expired.
	ErrSessionNotFound = errors.New("session not found")
	// ErrRefreshReused: a spent refresh token came back; the session is now
	// revoked.
	ErrRefreshReused = errors.New("refresh token reused")
	// ErrInvalidToken: a mini-program token or refresh token is unknown or
	// expired.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnavailable: Redis, or the user store, is unreachable or does not
	// answer. The cause is wrapped too.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrOverloaded: a Redis call could not be made in time because this
	// process is over capacity (its calls queued for a connection or for the
	// CPU) while Redis itself answers; or a call of the user store ran out of
	// time while the database answered other calls. Retry shortly, or
	// elsewhere. The cause is wrapped too.
	ErrOverloaded = errors.New("server overloaded")
	// ErrRateLimited: a rate limit is reached; the error is a *LimitError
	// (limit.go) saying when to come back.
	ErrRateLimited = errors.New("rate limit reached")
	// ErrPollLimited: the poll token's polls of the scene are over
	// Config.PollsPerMinute; the error is a *LimitError (a PollLimitError)
	// and matches ErrRateLimited too.
	ErrPollLimited = errors.New("too many polls of the scene")
)

// scriptErrors maps the codes the Lua scripts answer with to sentinels.
var scriptErrors = map[string]error{
	"not_found":        ErrSceneNotFound,
	"bad_token":        ErrInvalidPollToken,
	"already_scanned":  ErrAlreadyScanned,
	"not_scanner":      ErrNotScanner,
	"not_scanned":      ErrNotScanned,
	"not_confirmed":    ErrNotConfirmed,
	"already_redeemed": ErrAlreadyRedeemed,
	"final":            ErrSceneFinal,
	"expired":          ErrSceneExpired,
	"mismatch":         ErrMatchMismatch,
	"no_pick":          ErrMatchRequired,
	"need_scanner":     errNeedScanner,
}

// errNeedScanner: the redeem found no scanner profile in the scene and
// changed nothing (see RedeemScene).
var errNeedScanner = errors.New("scene keeps no scanner profile")

// storeErr wraps a Redis failure. A cancelled caller gets its own context
// error back, not ErrUnavailable, so a client that hung up is not counted as
// an outage. A call that ran out of time inside this process, waiting for a
// pooled connection or past its own deadline, while the subscriber still
// hears from Redis is ErrOverloaded: the process is over capacity and the
// store is fine, so it must not be reported as down (see overloaded).
func (e *Engine) storeErr(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("scanlogin: %s: %w", op, err)
	}
	if e.overloaded(err) {
		return fmt.Errorf("scanlogin: %s: %w: %w", op, ErrOverloaded, err)
	}
	return fmt.Errorf("scanlogin: %s: %w: %w", op, ErrUnavailable, err)
}

// overloaded reports whether err is a timeout of our own making while Redis
// is healthy: a context deadline (the caller's, or the bound a client puts
// on every call), which go-redis honours while a command queues for a
// pooled connection and, with ContextTimeoutEnabled, on the socket too; or
// its pool timeout, which bounds the same queue. They mean that this
// process had more work than connections and CPU, not that Redis stopped
// answering, unless the subscriber says otherwise: Redis's health is its
// verdict, which rests on its own connection's PINGs and not on the pool
// (see subscribeLoop). In the second or so before it notices a hang, a
// call cut by its deadline counts as overloaded too; both are 503 with
// Retry-After. The client's own socket timeouts, refused and dropped
// connections remain ErrUnavailable.
func (e *Engine) overloaded(err error) bool {
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, redis.ErrPoolTimeout) {
		return false
	}
	return !e.hub.unreachable.Load() && e.downFor() == 0
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }
