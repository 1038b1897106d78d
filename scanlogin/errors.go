package scanlogin

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	ErrSceneFinal       = errors.New("scene is final")
	ErrSceneExpired     = errors.New("scene expired")
	// ErrMatchMismatch: the phone picked the wrong number; the scene is now
	// cancelled.
	ErrMatchMismatch = errors.New("number match mismatch")
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
	// ErrUnavailable: Redis is unreachable or timed out. The cause is wrapped
	// too.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrPollLimited: the poll token's polls of the scene are over
	// Config.PollsPerMinute; the error is a *PollLimitError.
	ErrPollLimited = errors.New("too many polls of the scene")
)

// PollLimitError is ErrPollLimited with the time until the next poll is
// allowed.
type PollLimitError struct{ RetryAfter time.Duration }

func (e *PollLimitError) Error() string {
	return fmt.Sprintf("scanlogin: %v, retry after %s", ErrPollLimited, e.RetryAfter)
}

func (e *PollLimitError) Is(target error) bool { return target == ErrPollLimited }

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
}

// storeErr wraps a Redis failure. A cancelled caller gets its own context
// error back, not ErrUnavailable, so a client that hung up is not counted as
// an outage.
func storeErr(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("scanlogin: %s: %w", op, err)
	}
	return fmt.Errorf("scanlogin: %s: %w: %w", op, ErrUnavailable, err)
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }
