package scanlogin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Waiting works like this. The engine holds ONE pub/sub connection, on the
// channel <prefix>wake, for all waiters of the process; every transition
// script publishes "<scene id>:<version>" there. The subscriber goroutine
// hands each message to the waiters of that scene through 1-buffered
// channels with non-blocking sends, so a slow waiter never stalls it and a
// waiter costs no Redis connection and no Redis command while it sleeps.
//
// Pub/sub is only a hint. A waiter is registered before it reads the state,
// and re-reads the state on every message, whenever the subscription is
// (re)established (go-redis reconnects silently; the subscriber sees the
// fresh "subscribe" confirmation and wakes everyone), when it loses health,
// at the scene's deadline and at the end of its wait. So a lost message
// delays no one past one wait.

// hub maps scene IDs to their waiters.
type hub struct {
	mu      sync.Mutex
	byScene map[string]*waiter // first waiter of each scene
	n       int

	// downSince is the UnixNano time the subscription was lost, 0 while
	// healthy.
	downSince atomic.Int64
	// unreachable is set while Redis does not answer the subscriber's probe.
	unreachable atomic.Bool
}

func (h *hub) init() { h.byScene = map[string]*waiter{} }

func (h *hub) add(w *waiter) {
	h.mu.Lock()
	if first := h.byScene[w.scene]; first != nil {
		w.next = first
		first.prev = w
	}
	h.byScene[w.scene] = w
	h.n++
	h.mu.Unlock()
}

func (h *hub) remove(w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case w.prev != nil:
		w.prev.next = w.next
	case h.byScene[w.scene] == w:
		if w.next != nil {
			h.byScene[w.scene] = w.next
		} else {
			delete(h.byScene, w.scene)
		}
	default:
		return // not registered
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	h.n--
}

func (w *waiter) notify() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already pending; it will re-read anyway
	}
}

// wakeScene wakes the waiters of one scene.
func (h *hub) wakeScene(scene string) {
	h.mu.Lock()
	for w := h.byScene[scene]; w != nil; w = w.next {
		w.notify()
	}
	h.mu.Unlock()
}

// wakeAll wakes every waiter, after a (re)subscription or a loss of health.
func (h *hub) wakeAll() {
	h.mu.Lock()
	for _, first := range h.byScene {
		for w := first; w != nil; w = w.next {
			w.notify()
		}
	}
	h.mu.Unlock()
}

// waiters is the number of pending waits.
func (h *hub) waiters() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// waiter is one Wait that sleeps: the subscriber, the timer and Close wake
// it through wake; the end of its context through ctx.Done.
type waiter struct {
	wake       chan struct{} // 1-buffered: a pending wake-up is never lost, never blocks
	prev, next *waiter       // the other waiters of the scene
	scene      string
}

// Wait long-polls a scene. It checks the poll token and returns at once if
// the scene's version differs from since or the scene is final; otherwise it
// returns when the version changes, at the scene's deadline (as expired),
// after maxWait with the unchanged scene, or on Close with the current
// scene.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrInvalidPollToken,
// *PollLimitError, ErrUnavailable (within 2 s when Redis is down),
// ErrOverloaded (this process could not get its read to a healthy Redis in
// time), or the context's error when ctx ends first.
func (e *Engine) Wait(ctx context.Context, id, pollToken string, since int64, maxWait time.Duration) (*Scene, error) {
	if err := e.canWait(id); err != nil {
		return nil, err
	}
	end := time.Now().Add(maxWait)
	// Register before reading, so a transition that lands between the read
	// and the sleep still wakes us.
	w := &waiter{wake: make(chan struct{}, 1), scene: id}
	e.hub.add(w)
	defer e.hub.remove(w)

	rctx, cancel := readContext(ctx)
	s, err := e.authorizePoll(rctx, id, pollToken)
	cancel()
	if err != nil {
		return nil, e.waitErr(ctx, err)
	}
	if s.Version != since || s.State.Final() || maxWait <= 0 || e.isClosed() {
		return s, nil
	}
	if e.afterFirstRead != nil {
		e.afterFirstRead()
	}

	// The timer wakes the waiter through w.wake, as the subscriber and
	// Close do, so it sleeps on two channels rather than four: a select
	// holds memory for each channel it sleeps on, and a Timer has a channel
	// of its own (docs/ARCHITECTURE.md#waiting).
	timer := time.AfterFunc(e.untilCheck(s, end), w.notify)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("scanlogin: wait: %w", ctx.Err())
		case <-w.wake:
		}
		closing := e.isClosed()
		if e.hub.unreachable.Load() {
			if closing {
				return s, nil // do not hold up shutdown on a read that cannot succeed
			}
			return nil, fmt.Errorf("scanlogin: wait: %w: redis does not answer", ErrUnavailable)
		}
		rctx, cancel := readContext(ctx)
		rec, err := e.readScene(rctx, id)
		cancel()
		if err != nil {
			if closing && !errors.Is(err, ErrSceneNotFound) {
				return s, nil // shutting down: the last state we saw is the best we have
			}
			return nil, e.waitErr(ctx, err)
		}
		s = rec.view(e.now())
		if s.Version != since || s.State.Final() || closing || !time.Now().Before(end) {
			return s, nil
		}
		timer.Reset(e.untilCheck(s, end))
	}
}

// readContext bounds one read of a Wait by waitReadTimeout. It keeps ctx's
// values but is not its child: a child would leave ctx holding a set of
// children for the rest of the wait, a few hundred bytes per sleeping
// waiter (docs/ARCHITECTURE.md#waiting). The end of ctx is seen when the
// read returns, at most waitReadTimeout later.
func readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), waitReadTimeout)
}

// canWait refuses a wait that cannot succeed: a malformed ID, or Redis
// known to be unreachable.
func (e *Engine) canWait(id string) error {
	if !validID(id) {
		return fmt.Errorf("scanlogin: wait: %w", ErrInvalidSceneID)
	}
	if e.hub.unreachable.Load() {
		return fmt.Errorf("scanlogin: wait: %w: redis does not answer", ErrUnavailable)
	}
	if d := e.downFor(); d > failFastAfter {
		return fmt.Errorf("scanlogin: wait: %w: wake-up subscription down for %s", ErrUnavailable, d.Round(time.Millisecond))
	}
	return nil
}

// untilCheck is how long a waiter on s may sleep before it must re-read:
// until the end of its wait or the scene's deadline.
func (e *Engine) untilCheck(s *Scene, end time.Time) time.Duration {
	d := time.Until(end)
	if !s.ExpiresAt.IsZero() {
		// +1ms so the re-read lands at or past the deadline; the floor
		// keeps an injected clock that lags the real one from turning
		// this into a busy loop of reads.
		d = min(d, max(s.ExpiresAt.Sub(e.now())+time.Millisecond, minDeadlineTimer))
	}
	return max(d, 0)
}

// waitErr prefers the caller's context error over the timeout it caused.
func (e *Engine) waitErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("scanlogin: wait: %w", ctx.Err())
	}
	return err
}

// downFor is how long the wake-up subscription has been down (0 if up).
func (e *Engine) downFor() time.Duration {
	since := e.hub.downSince.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.Unix(0, since))
}

const (
	// defaultPingEvery: with no traffic for this long the subscriber pings.
	defaultPingEvery = 300 * time.Millisecond
	// pongTimeout: a connection silent this long after a PING is dead (a
	// hung or partitioned Redis never closes it).
	pongTimeout = 800 * time.Millisecond
	// retryEvery paces reconnection attempts while Redis is down.
	retryEvery = 200 * time.Millisecond
	// probeTimeout bounds the PING that tells a dead Redis from a dropped
	// subscription.
	probeTimeout = 300 * time.Millisecond
	// minDeadlineTimer is the shortest sleep before re-reading for expiry.
	minDeadlineTimer = 5 * time.Millisecond
)

func (e *Engine) setHealthy(ok bool) {
	if ok {
		if e.hub.downSince.Swap(0) != 0 {
			e.log.Info("scanlogin: wake-up subscription restored")
		}
		return
	}
	if e.hub.downSince.CompareAndSwap(0, time.Now().UnixNano()) {
		e.log.Warn("scanlogin: wake-up subscription lost")
	}
}

// subscriptionLost marks the subscription down, probes whether Redis itself
// answers, and wakes every waiter to re-read (messages may have been lost).
// While Redis does not answer, woken waiters fail at once instead of each
// timing out on a read of its own; they are woken once per outage.
func (e *Engine) subscriptionLost(ctx context.Context) {
	e.setHealthy(false)
	reachable := e.probe(ctx)
	if ctx.Err() != nil {
		return
	}
	if wasUnreachable := e.hub.unreachable.Swap(!reachable); !wasUnreachable {
		e.hub.wakeAll()
	}
}

// probe reports whether Redis answers a PING within probeTimeout. The PING
// runs in its own goroutine because a go-redis client without
// ContextTimeoutEnabled ignores context deadlines on the socket; at most
// one probe is in flight, and one still stuck counts as "no answer".
func (e *Engine) probe(ctx context.Context) bool {
	if !e.probing.CompareAndSwap(false, true) {
		return false
	}
	res := make(chan error, 1)
	go func() {
		defer e.probing.Store(false)
		res <- e.rdb.Ping(context.Background()).Err()
	}()
	t := time.NewTimer(probeTimeout)
	defer t.Stop()
	select {
	case err := <-res:
		return err == nil
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// subscribeLoop owns the process's single pub/sub connection until ctx ends.
func (e *Engine) subscribeLoop(ctx context.Context) {
	defer close(e.subDone)
	var cur atomic.Pointer[redis.PubSub]
	cur.Store(e.rdb.Subscribe(ctx, e.channel))
	stopped := make(chan struct{})
	defer func() {
		close(stopped)
		_ = cur.Load().Close()
	}()
	go func() {
		// Receive blocks in a socket read that ignores ctx; closing the
		// PubSub ends it.
		select {
		case <-ctx.Done():
			_ = cur.Load().Close()
		case <-stopped:
		}
	}()

	var pingedAt time.Time // zero: no PING outstanding
	for ctx.Err() == nil {
		ps := cur.Load()
		msg, err := ps.ReceiveTimeout(ctx, e.pingEvery)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				switch {
				case pingedAt.IsZero():
					// Quiet: ask for a PONG to prove the connection lives.
					_ = ps.Ping(ctx)
					pingedAt = time.Now()
				case time.Since(pingedAt) > pongTimeout:
					// No PONG: the connection is dead without having been
					// closed. Start over with a fresh PubSub.
					e.subscriptionLost(ctx)
					_ = ps.Close()
					cur.Store(e.rdb.Subscribe(ctx, e.channel))
					pingedAt = time.Time{}
				}
				continue
			}
			// Connection lost or refused. go-redis reconnects on the next
			// receive; until the "subscribe" confirmation arrives we may
			// miss messages, so waiters re-read now (and fail at once if
			// Redis itself is gone) and again when it is back.
			pingedAt = time.Time{}
			e.subscriptionLost(ctx)
			if e.afterLost != nil {
				e.afterLost()
			}
			t := time.NewTimer(retryEvery)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		pingedAt = time.Time{} // any traffic proves the connection alive
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				e.hub.unreachable.Store(false)
				e.setHealthy(true)
				e.hub.wakeAll()
			}
		case *redis.Message:
			if scene, _, ok := strings.Cut(m.Payload, ":"); ok {
				e.hub.wakeScene(scene)
			}
		case *redis.Pong:
		}
	}
}
