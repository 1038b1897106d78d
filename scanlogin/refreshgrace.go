package scanlogin

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// DefaultRefreshReuseWindow is how long a rotated refresh token keeps
// answering with its successor (docs/ARCHITECTURE.md#tokens). Two tabs
// refreshing at once, or a client retrying after a lost answer, present the
// same token twice within milliseconds; a thief replays it later. Ten
// seconds covers a retry over a slow mobile network and is far shorter than
// any theft-and-replay that reuse detection is for (Auth0's reuse interval
// and Okta's grace period work the same way).
const DefaultRefreshReuseWindow = 10 * time.Second

// sealSuccessor encrypts the successor of a refresh token so that only a
// holder of the presented token can open it, and only with the engine's
// secret: the AES-GCM key is an HMAC of the presented token under the
// secret, and the session ID is the associated data. Redis alone (a backup,
// a replica) yields no usable refresh token.
func (e *Engine) sealSuccessor(presented, next string) string {
	return e.successorSealer(presented).seal(next, sessionOf(presented))
}

func (e *Engine) successorSealer(presented string) sealer {
	m := hmac.New(sha256.New, e.cfg.SessionKeySecret)
	m.Write([]byte("scanlogin refresh successor\x00" + presented))
	s, _ := newSealer(m.Sum(nil)) // a 32-byte key always makes a cipher
	return s
}

func sessionOf(refreshToken string) string {
	sid, _, _ := strings.Cut(refreshToken, ".")
	return sid
}

// reuseWindowMS is the window as the refresh script takes it; -1 is off.
func (e *Engine) reuseWindowMS() int64 {
	if e.cfg.RefreshReuseWindow < 0 {
		return -1
	}
	return e.cfg.RefreshReuseWindow.Milliseconds()
}

// successorAgain answers a refresh with the token rotated last, within the
// reuse window: the same successor the first presentation got, so both
// callers hold a working token and the session lives.
func (e *Engine) successorAgain(sid, presented, sealed string, fields []string) (*Session, string, error) {
	next, err := e.successorSealer(presented).open(sealed, sid)
	if err != nil {
		// Only a token whose hash matched reaches here, so this is a store
		// that lost or mangled the field: refuse, never guess.
		return nil, "", fmt.Errorf("scanlogin: refresh session %s: successor unreadable: %w", sid, ErrInvalidToken)
	}
	e.log.Debug("scanlogin: rotated refresh token presented again within the reuse window", "session", sid)
	return sessionFromFields(pairs(fields)), next, nil
}
