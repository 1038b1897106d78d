package scanlogin

import (
	"context"
	"errors"
	"fmt"
)

// A Redemption is a confirmed scene turned into a web session.
type Redemption struct {
	Scene *Scene // the scene as it stands (redeemed on success)
	// User is who signed in. When the scene kept its scanner's profile
	// (Scene.Scanner) it is that: the ID, nickname and avatar URL as the
	// scan found them, nothing else; otherwise the user as read.
	User         *User
	Session      *Session
	RefreshToken string // returned once: the session's first refresh token
}

// RedeemScene turns a confirmed scene into a web session, exactly once: of
// every call presenting the scene's poll token, at most one ever gets a
// session, even when a Redis failover lost the scene's "redeemed" write
// (the session's ID is derived from the scene; see CreateSessionForScene).
// ip and userAgent describe the browser, for the user's session list and
// sign-in history (written in the background: see RecordSignIn). The
// browser's redeem endpoint and the OpenID Connect provider both finish a
// login through it.
//
// Everything that may fail for a while (reading the scene and the user) is
// done before the scene is spent, so that an error up to then leaves the
// scene redeemable and a retry can succeed; once it is spent, creating the
// session is tried even if ctx ends, and retried once, then given up for
// good. Each of the two phases has one bound (opTimeout) for all its round
// trips, so that a Redis that hangs fails a redeem within it, whichever
// round trip it stops answering.
// A scene that kept its scanner's profile needs no user read at all: the
// redeem script spends it in one round trip. One that did not (its user
// was not cached at the scan) is refused by that script without change,
// the user is read, and the script runs again.
//
// Errors, with nothing changed (the transient ones may be retried):
// ErrInvalidSceneID, ErrSceneNotFound, ErrInvalidPollToken, ErrNotConfirmed,
// ErrSceneFinal, ErrSceneExpired, ErrUserNotFound (the scanner's account is
// gone), ErrUnavailable, ErrOverloaded, or the context's error.
// ErrAlreadyRedeemed: the scene, or its session, was redeemed before; a
// replay. ErrRedeemFailed (the cause in its message): the scene is spent but its
// session could not be created; final, the user must scan a new code.
// On a refusal the Redemption carries the scene as it stands, when it was
// read, so that the caller can log whose login it was.
func (e *Engine) RedeemScene(ctx context.Context, id, pollToken, ip, userAgent string) (*Redemption, error) {
	th := hashToken(pollToken)
	sc, u, err := e.spendScene(ctx, id, th)
	if err != nil {
		return &Redemption{Scene: sc}, err
	}
	// From here on the scene is spent: a failure is final. The session is
	// written even if the caller has gone, within a bound of its own, so
	// that a slow spend under load does not leave it no time.
	if u == nil {
		u = &User{ID: sc.ScannedBy}
		if sc.Scanner != nil { // always, past needScanner
			u.Nickname, u.AvatarURL = sc.Scanner.Nickname, sc.Scanner.AvatarURL
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	sess, refresh, err := e.CreateSessionForScene(sctx, id, u.ID, ip, userAgent)
	if err != nil && !errors.Is(err, ErrAlreadyRedeemed) {
		// Once more, in what is left of the bound: a connection that
		// dropped may have failed the first try at once, while a Redis
		// that hangs has used the bound up and fails this one at once.
		// An ErrAlreadyRedeemed now means the first try wrote the session
		// and lost the answer: its tokens are gone, so that fails too.
		sess, refresh, err = e.CreateSessionForScene(sctx, id, u.ID, ip, userAgent)
		if err != nil {
			return &Redemption{Scene: sc, User: u}, redeemFailed(err)
		}
	}
	if err != nil {
		return &Redemption{Scene: sc, User: u}, err // the scene's session exists: a replay after a failover
	}
	e.RecordSignIn(SignIn{UserID: u.ID, Kind: SignInRedeem, Client: id, SessionID: sess.ID, IP: ip, UserAgent: userAgent})
	return &Redemption{Scene: sc, User: u, Session: sess, RefreshToken: refresh}, nil
}

// spendScene is the redeem up to the spent scene: the redeem script, and,
// for a scene that kept no scanner profile, the user read and the script
// again. They share one bound. u is the user read, if it was.
func (e *Engine) spendScene(ctx context.Context, id, tokenHash string) (sc *Scene, u *User, err error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	sc, err = e.transition(ctx, "redeem", id, tokenHash, transitionArgs{needScanner: true})
	if errors.Is(err, errNeedScanner) {
		// The scanner of a confirmed scene cannot change, so the user read
		// here is the one the redeem names.
		if u, err = e.User(ctx, sc.ScannedBy); err != nil {
			return sc, nil, err
		}
		sc, err = e.transition(ctx, "redeem", id, tokenHash, transitionArgs{})
	}
	return sc, u, err
}

// redeemFailed is a failure after the scene was spent. The cause is in the
// message but not wrapped: an ErrUnavailable under it must not read as
// "retry", since the retry would only meet ErrAlreadyRedeemed.
func redeemFailed(cause error) error {
	return fmt.Errorf("scanlogin: redeem: %w: %v", ErrRedeemFailed, cause)
}
