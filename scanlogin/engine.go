package scanlogin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config tunes an Engine. Zero values take the defaults noted per field.
type Config struct {
	SceneTTL      time.Duration // pending lifetime (default 120s)
	ConfirmWindow time.Duration // granted by the first scan (default 60s), never past HardCap
	HardCap       time.Duration // from creation (default 5m)
	RedeemWindow  time.Duration // confirmed -> redeem (default 60s)
	NumberMatch   bool          // scenes carry 3 MatchChoices; Confirm checks the pick
	SessionTTL    time.Duration // web session lifetime (refresh token validity), default 30 days
	MPTokenTTL    time.Duration // mini-program login token lifetime, default 7 days
	// RefreshReuseWindow is how long a just-rotated refresh token still
	// answers with its successor instead of counting as reuse (two tabs
	// refreshing at once): default DefaultRefreshReuseWindow, negative off.
	RefreshReuseWindow time.Duration
	// ScansPerMinute caps one user's scans (consent bombing), counted in
	// the same round trip as the scan's read of the scanner's profile (0:
	// no cap).
	ScansPerMinute int
	// PollsPerMinute caps a Wait's polls of one scene per poll token, counted
	// in the same round trip as the Wait's first read (0: no cap).
	PollsPerMinute int
	// SessionKeySecret is the AES-256-GCM key for session_key at rest: 32
	// bytes, required.
	SessionKeySecret []byte
	// OnSessionEnd, when set, is told of every web session that ends
	// before its time: revoked (logout, remote sign-out from the phone, the
	// OpenID provider's logout) or killed by a reused refresh token. It runs
	// on the caller's goroutine after the session is gone and must return at
	// once (the OpenID provider queues its back-channel logout there; see
	// docs/OIDC.md#back-channel-logout).
	OnSessionEnd func(SessionEnd)
	// Users is the durable store of users, avatars and sign-ins; required.
	Users UserStore
	// AppID is the mini-program's AppID: the OpenIDs given to LoginUser are
	// of that app.
	AppID string
	// UserCacheTTL is how long a user stays cached in Redis after it was
	// last written there (default MPTokenTTL: a phone's token outlives no
	// cached copy of its user, so its scans never send a poll to the
	// store).
	UserCacheTTL time.Duration
	KeyPrefix    string           // default "sl:"
	Now          func() time.Time // injected clock; default time.Now
	Logger       *slog.Logger     // default: discard
}

// SessionEnd tells Config.OnSessionEnd which session ended and why.
type SessionEnd struct {
	SessionID, UserID string
	Reason            string // SessionRevoked or SessionRefreshReused
}

// Reasons of a SessionEnd.
const (
	SessionRevoked       = "revoked"
	SessionRefreshReused = "refresh_reused"
)

const (
	// gcGrace is how long a scene key outlives its deadline (or its final
	// transition) so that late polls still read "expired" or the final state.
	gcGrace = 5 * time.Minute
	// waitReadTimeout bounds each Redis read made while waiting. A Redis
	// that stops answering is told by the subscriber (about 1.5 s) and by
	// the client's socket timeouts; this bound only caps how long a read may
	// queue in this process, and a read that runs past it while Redis is
	// healthy is ErrOverloaded, not an outage. It was 1 s, which a busy
	// 2-core machine reached with Redis idle.
	waitReadTimeout = 2 * time.Second
	// failFastAfter: a new Wait fails at once with ErrUnavailable when the
	// wake-up subscription has been down this long.
	failFastAfter = 500 * time.Millisecond
	// opTimeout bounds, all together, the round trips of a call that goes
	// on after one of them fails (a scan past its profile read, a redeem,
	// a cache refresh and its fallback). Each round trip alone may take the
	// Redis client's whole bound when Redis hangs; without a shared one
	// they added up (a redeem took 6 s). It equals the bound the
	// application puts on each Redis call (docs/ARCHITECTURE.md#redis).
	opTimeout = 1200 * time.Millisecond
)

func (c *Config) setDefaults() error {
	if c.SceneTTL <= 0 {
		c.SceneTTL = 120 * time.Second
	}
	if c.ConfirmWindow <= 0 {
		c.ConfirmWindow = 60 * time.Second
	}
	if c.HardCap <= 0 {
		c.HardCap = 5 * time.Minute
	}
	if c.RedeemWindow <= 0 {
		c.RedeemWindow = 60 * time.Second
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 30 * 24 * time.Hour
	}
	if c.MPTokenTTL <= 0 {
		c.MPTokenTTL = 7 * 24 * time.Hour
	}
	if c.RefreshReuseWindow == 0 {
		c.RefreshReuseWindow = DefaultRefreshReuseWindow
	}
	if c.UserCacheTTL <= 0 {
		c.UserCacheTTL = c.MPTokenTTL
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "sl:"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.SessionKeySecret) != 32 {
		return errors.New("scanlogin: SessionKeySecret must be 32 bytes")
	}
	if c.Users == nil {
		return errors.New("scanlogin: Users (the user store) is required")
	}
	return nil
}

// Engine is the domain service. It is safe for concurrent use. Create it
// with New and release it with Close.
type Engine struct {
	rdb   redis.UniversalClient
	users UserStore
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	kp    string // key prefix

	sealer  sealer // session_key encryption
	scripts scripts

	channel string // pub/sub channel for wake-ups
	hub     hub

	closeOnce sync.Once
	closed    chan struct{}
	subCancel context.CancelFunc
	subDone   chan struct{}

	// suppressPublish makes transitions skip PUBLISH; set by in-package
	// tests to prove that waiters survive lost messages.
	suppressPublish bool
	// pingEvery is the subscriber's idle ping period (a field so that the
	// command-count benchmark can quiet it).
	pingEvery time.Duration
	// afterLost runs in the subscriber after it noticed a lost connection
	// and woke the waiters, before it reconnects: tests land transitions in
	// that gap.
	afterLost func()
	// afterFirstRead runs in Wait between its first read and its first
	// sleep: tests land a transition there.
	afterFirstRead func()

	probing atomic.Bool // a health probe is in flight

	signIns signInRecorder
}

// New returns an Engine on rdb and starts its one wake-up subscription. It
// returns an error only for a bad Config; a Redis that is down at start is
// retried in the background.
func New(rdb redis.UniversalClient, cfg Config) (*Engine, error) {
	return newEngine(rdb, cfg, nil)
}

// newEngine is New with a hook that sets test-only knobs before the
// subscriber starts.
func newEngine(rdb redis.UniversalClient, cfg Config, tune func(*Engine)) (*Engine, error) {
	if rdb == nil {
		return nil, errors.New("scanlogin: nil redis client")
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s, err := newSealer(cfg.SessionKeySecret)
	if err != nil {
		return nil, fmt.Errorf("scanlogin: session key secret: %w", err)
	}
	e := &Engine{
		rdb:       rdb,
		users:     cfg.Users,
		cfg:       cfg,
		log:       cfg.Logger,
		now:       cfg.Now,
		kp:        cfg.KeyPrefix,
		sealer:    s,
		scripts:   newScripts(),
		channel:   cfg.KeyPrefix + "wake",
		closed:    make(chan struct{}),
		subDone:   make(chan struct{}),
		pingEvery: defaultPingEvery,
	}
	e.hub.init()
	if tune != nil {
		tune(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.subCancel = cancel
	go e.subscribeLoop(ctx)
	e.signIns.start(e)
	return e, nil
}

// Close releases every waiter at once with its current state and stops the
// subscriber. It does not close the Redis client, which the caller owns.
// It is safe to call more than once.
func (e *Engine) Close() error {
	e.ReleaseWaiters()
	e.signIns.stop()
	return nil
}

// ReleaseWaiters is the first half of Close, for a server shutting down:
// every Wait returns the state as it stands, at once, and so do those that
// begin later; everything else keeps working, the sign-in history included,
// for the requests still in flight. Close finishes the job.
func (e *Engine) ReleaseWaiters() {
	e.closeOnce.Do(func() {
		close(e.closed)
		e.hub.wakeAll() // sleeping waiters see closed when they wake
		e.subCancel()
		<-e.subDone
	})
}

func (e *Engine) isClosed() bool {
	select {
	case <-e.closed:
		return true
	default:
		return false
	}
}

// Ping reports whether Redis answers: ErrUnavailable when it does not.
func (e *Engine) Ping(ctx context.Context) error {
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		return e.storeErr("ping", err)
	}
	return nil
}

// Key layout. Everything of one scene shares the hash tag {<scene id>}, so
// the scene scripts run on Redis Cluster; a session and its spent refresh
// tokens share {<session id>}; a user's cached copy, session key, session
// index, scan limit and mini-program tokens share {<user id>}. (The
// previous version kept users themselves under <prefix>user:{<id>} and
// <prefix>openid:{<openid>}; see sqlstore.MigrateRedis.)
func (e *Engine) sceneKey(id string) string { return e.kp + "{" + id + "}:s" }
func (e *Engine) imageKey(id string) string { return e.kp + "{" + id + "}:img" }

// pollCountKey counts the polls of a scene with one presented poll token
// (its hash's first 8 hex digits): per token, so a stranger who read the
// scene ID off the QR cannot spend the browser's polls.
func (e *Engine) pollCountKey(id, tokenHash string) string {
	return e.kp + "{" + id + "}:p:" + tokenHash[:8]
}
func (e *Engine) userCacheKey(id string) string  { return e.kp + "user:{" + id + "}:c" }
func (e *Engine) sessionKeyKey(id string) string { return e.kp + "user:{" + id + "}:sk" }
func (e *Engine) userSessKey(id string) string   { return e.kp + "user:{" + id + "}:sessions" }
func (e *Engine) sessKey(id string) string       { return e.kp + "sess:{" + id + "}" }
func (e *Engine) spentKey(id string) string      { return e.kp + "sess:{" + id + "}:spent" }

// mpTokenKey is where a mini-program token of the old form was kept (its
// own slot); userMPTokenKey is the current form's, in its user's slot
// (session.go).
func (e *Engine) mpTokenKey(hash string) string { return e.kp + "mpt:{" + hash + "}" }
func (e *Engine) userMPTokenKey(id, hash string) string {
	return e.kp + "user:{" + id + "}:mpt:" + hash
}
