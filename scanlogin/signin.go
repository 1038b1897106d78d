package scanlogin

import (
	"context"
	"sync"
	"time"
)

// signInQueue bounds the sign-ins waiting to be written: at 200 logins/s
// it is seconds of a slow store; beyond it entries are dropped and logged.
const signInQueue = 4096

// signInWorkers write the history concurrently.
const signInWorkers = 2

// signInRecorder writes the sign-in history behind the login: a redeem does
// not wait for the store, and a store that is down costs history entries
// (logged), never a login.
type signInRecorder struct {
	e    *Engine
	q    chan SignIn
	wg   sync.WaitGroup
	stop func()
	// recorded, when set (tests), is called after each write.
	recorded func(SignIn, error)
}

func (r *signInRecorder) start(e *Engine) {
	r.e = e
	r.q = make(chan SignIn, signInQueue)
	done := make(chan struct{})
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
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
	for range signInWorkers {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				select {
				case in := <-r.q:
					r.write(in)
				case <-done:
					for {
						select {
						case in := <-r.q:
							r.write(in)
						default:
							return
						}
					}
				}
			}
		}()
	}
}

func (r *signInRecorder) write(in SignIn) {
	err := r.e.users.RecordSignIn(context.Background(), in)
	if err != nil {
		r.e.log.Warn("sign-in history: entry not written", "user_id", in.UserID, "kind", string(in.Kind), "err", err)
	}
	if r.recorded != nil {
		r.recorded(in, err)
	}
}

// add queues a sign-in without waiting.
func (r *signInRecorder) add(in SignIn) {
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
