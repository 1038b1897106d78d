package scanlogin

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// signInQueue bounds the sign-ins waiting to be written: at 600 logins/s
// it is seconds of a slow store; beyond it entries are dropped and logged.
const signInQueue = 4096

// signInBatch bounds the entries written in one call of the store.
const signInBatch = 256

// signInLinger is how long the writer waits for company when it finds a
// single entry queued. In a loadgen run at 200 logins/s with PostgreSQL as
// deployed it halved the commits (0.86 -> 0.48 per login) and cut the
// database's CPU per login by 40 %; busier, batches form without it.
const signInLinger = 5 * time.Millisecond

// signInRecorder writes the sign-in history behind the login: a redeem does
// not wait for the store, and a store that is down costs history entries
// (logged), never a login. One writer takes everything queued, up to
// signInBatch, in one call of the store: one commit for all the logins that
// came in while the previous one was written, so the database's cost per
// login falls as the rate rises (docs/ARCHITECTURE.md#the-database).
type signInRecorder struct {
	e    *Engine
	q    chan SignIn
	wg   sync.WaitGroup
	stop func()
	// stopped: the writer is gone; add writes an entry itself.
	stopped atomic.Bool
	// recorded, when set (tests), is called for each entry after its write.
	recorded func(SignIn, error)
}

func (r *signInRecorder) start(e *Engine) {
	r.e = e
	r.q = make(chan SignIn, signInQueue)
	done := make(chan struct{})
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			r.stopped.Store(true)
			close(done)
			// What is queued is written, for a while.
			finished := make(chan struct{})
			go func() { r.wg.Wait(); close(finished) }()
			select {
			case <-finished:
			case <-time.After(3 * time.Second):
				e.log.Warn("sign-in history: shutting down with entries unwritten", "queued", len(r.q))
			}
		})
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		batch := make([]SignIn, 0, signInBatch)
		for {
			select {
			case in := <-r.q:
				batch = r.take(append(batch[:0], in))
				if len(batch) == 1 {
					time.Sleep(signInLinger)
					batch = r.take(batch)
				}
				r.write(batch)
			case <-done:
				for batch = r.take(batch[:0]); len(batch) > 0; batch = r.take(batch[:0]) {
					r.write(batch)
				}
				return
			}
		}
	}()
}

// take adds to batch what is queued, without waiting, up to signInBatch.
func (r *signInRecorder) take(batch []SignIn) []SignIn {
	for len(batch) < signInBatch {
		select {
		case in := <-r.q:
			batch = append(batch, in)
		default:
			return batch
		}
	}
	return batch
}

func (r *signInRecorder) write(batch []SignIn) {
	errs := r.e.users.RecordSignIns(context.Background(), batch)
	for i, in := range batch {
		if errs[i] != nil {
			r.e.log.Warn("sign-in history: entry not written", "user_id", in.UserID, "kind", string(in.Kind), "err", errs[i])
		}
		if r.recorded != nil {
			r.recorded(in, errs[i])
		}
	}
}

// add queues a sign-in without waiting; once the writer has stopped (a
// request that outlived the shutdown), it writes the entry itself rather
// than leave it in a queue nobody reads.
func (r *signInRecorder) add(in SignIn) {
	if r.stopped.Load() {
		r.write([]SignIn{in})
		return
	}
	select {
	case r.q <- in:
	default:
		r.e.log.Warn("sign-in history: queue full, entry dropped", "user_id", in.UserID, "kind", string(in.Kind))
	}
}

// RecordSignIn adds a sign-in to the user's history, written to the store
// in the background (RedeemScene records its own). In.At defaults to now.
func (e *Engine) RecordSignIn(in SignIn) {
	if in.At.IsZero() {
		in.At = e.now()
	}
	e.signIns.add(in)
}
