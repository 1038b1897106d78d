package scanlogin

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	f := newSceneFixture(t, Config{SessionTTL: time.Hour})
	ctx := t.Context()
	u, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-s"})

	s, rt, err := f.e.CreateSession(ctx, u.ID, "192.0.2.9", "Chrome")
	if err != nil || s.UserID != u.ID || !strings.HasPrefix(rt, s.ID+".") {
		t.Fatalf("create: %+v %v", s, err)
	}
	if raw := f.rdb.HGetAll(ctx, f.e.sessKey(s.ID)).Val(); strings.Contains(strings.Join(mapValues(raw), " "), rt[33:]) {
		t.Fatal("Redis holds the refresh token in clear")
	}
	alive, err := f.e.SessionAlive(ctx, s.ID)
	if err != nil || alive.IP != "192.0.2.9" || alive.UserAgent != "Chrome" || !alive.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("alive: %+v %v", alive, err)
	}

	t.Run("rotation", func(t *testing.T) {
		f.clk.Advance(time.Minute)
		s2, rt2, err := f.e.RefreshSession(ctx, rt)
		if err != nil || s2.ID != s.ID || rt2 == rt || !s2.LastSeenAt.After(s.LastSeenAt) || !s2.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("refresh: %+v %v", s2, err)
		}
		s3, rt3, err := f.e.RefreshSession(ctx, rt2)
		if err != nil || rt3 == rt2 || s3.ID != s.ID {
			t.Fatalf("second refresh: %v", err)
		}
		// A forged token for a known session ID is merely invalid: it must
		// not let anyone who saw the session ID kill the session.
		if _, _, err := f.e.RefreshSession(ctx, s.ID+".forged"); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("forged: %v", err)
		}
		if _, err := f.e.SessionAlive(ctx, s.ID); err != nil {
			t.Fatalf("forged token hurt the session: %v", err)
		}
		// The spent first token comes back: the whole session dies.
		if _, _, err := f.e.RefreshSession(ctx, rt); !errors.Is(err, ErrRefreshReused) {
			t.Fatalf("reuse: %v", err)
		}
		if _, err := f.e.SessionAlive(ctx, s.ID); !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("session alive after reuse: %v", err)
		}
		if _, _, err := f.e.RefreshSession(ctx, rt3); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("current token after reuse kill: %v", err)
		}
		if list, _ := f.e.UserSessions(ctx, u.ID); len(list) != 0 {
			t.Fatalf("killed session still listed: %+v", list)
		}
		for _, bad := range []string{"", "nodot", "x.y", strings.Repeat("a", 32)} {
			if _, _, err := f.e.RefreshSession(ctx, bad); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("%q: %v", bad, err)
			}
		}
	})

	// A client's grant (a session with a GrantKey record) and a web
	// session each refresh only as what they are; a refusal spends
	// nothing, so the right caller carries on with the same token.
	t.Run("grant or web", func(t *testing.T) {
		u, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-grant"})
		g, rtG, _ := f.e.CreateSession(ctx, u.ID, "ip-g", "ua-g")
		f.rdb.Set(ctx, f.e.GrantKey(g.ID), "{}", time.Hour)
		w, rtW, _ := f.e.CreateSession(ctx, u.ID, "ip-w", "ua-w")
		if _, _, err := f.e.RefreshSession(ctx, rtG); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("a grant's token refreshed a web session: %v", err)
		}
		if _, _, err := f.e.RefreshGrant(ctx, rtW); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("a web session's token refreshed a grant: %v", err)
		}
		if s2, _, err := f.e.RefreshGrant(ctx, rtG); err != nil || s2.ID != g.ID {
			t.Fatalf("grant refresh after the refused web refresh: %+v %v", s2, err)
		}
		if s2, _, err := f.e.RefreshSession(ctx, rtW); err != nil || s2.ID != w.ID {
			t.Fatalf("web refresh after the refused grant refresh: %+v %v", s2, err)
		}
	})

	t.Run("list and revoke", func(t *testing.T) {
		a, _, _ := f.e.CreateSession(ctx, u.ID, "ip-a", "ua-a")
		f.clk.Advance(time.Second)
		b, rtB, _ := f.e.CreateSession(ctx, u.ID, "ip-b", "ua-b")
		other, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-other"})
		f.e.CreateSession(ctx, other.ID, "ip-o", "ua-o")
		list, err := f.e.UserSessions(ctx, u.ID)
		if err != nil || len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID {
			t.Fatalf("list: %+v %v", list, err)
		}
		if err := f.e.RevokeSession(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.SessionAlive(ctx, b.ID); !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("revoked alive: %v", err)
		}
		if _, _, err := f.e.RefreshSession(ctx, rtB); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("refresh of revoked: %v", err)
		}
		if err := f.e.RevokeSession(ctx, b.ID); !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("second revoke: %v", err)
		}
		list, _ = f.e.UserSessions(ctx, u.ID)
		if len(list) != 1 || list[0].ID != a.ID {
			t.Fatalf("list after revoke: %+v", list)
		}
	})

	t.Run("expiry by the injected clock", func(t *testing.T) {
		c, rtC, _ := f.e.CreateSession(ctx, u.ID, "ip", "ua")
		f.clk.Advance(time.Hour)
		if _, err := f.e.SessionAlive(ctx, c.ID); !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("expired session alive: %v", err)
		}
		if _, _, err := f.e.RefreshSession(ctx, rtC); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("refresh of expired: %v", err)
		}
		if list, _ := f.e.UserSessions(ctx, u.ID); len(list) != 0 {
			t.Fatalf("expired sessions listed: %+v", list)
		}
		if ttl := f.rdb.PTTL(ctx, f.e.sessKey(c.ID)).Val(); ttl <= 0 || ttl > time.Hour {
			t.Fatalf("session key TTL %v", ttl)
		}
	})
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestMPTokens(t *testing.T) {
	f := newSceneFixture(t, Config{MPTokenTTL: time.Hour})
	ctx := t.Context()
	u, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-mp"})
	tok, ttl, err := f.e.IssueMPToken(ctx, u.ID)
	if err != nil || ttl != time.Hour || !strings.HasPrefix(tok, u.ID+".") || len(tok) != 32+1+43 {
		t.Fatalf("issue: %q %v %v", tok, ttl, err)
	}
	key := f.e.userMPTokenKey(u.ID, hashToken(tok))
	if key != "sl:user:{"+u.ID+"}:mpt:"+hashToken(tok) {
		t.Fatalf("token key %s", key)
	}
	if n, _ := f.rdb.Exists(ctx, key).Result(); n != 1 {
		t.Fatal("token not stored under its hash in its user's slot")
	}
	if ttl := f.rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("token key TTL %v", ttl)
	}
	keys := f.rdb.Keys(ctx, "*").Val()
	for _, k := range keys {
		if strings.Contains(k, tok) || strings.Contains(f.rdb.Get(ctx, k).Val(), tok) {
			t.Fatalf("token in clear under %s", k)
		}
	}
	if uid, err := f.e.MPTokenUser(ctx, tok); err != nil || uid != u.ID {
		t.Fatalf("lookup: %q %v", uid, err)
	}
	tok2, _, _ := f.e.IssueMPToken(ctx, u.ID)
	if err := f.e.RevokeMPToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.MPTokenUser(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := f.e.MPTokenUser(ctx, tok2); err != nil {
		t.Fatalf("revoking one token hurt another: %v", err)
	}
	f.clk.Advance(time.Hour)
	if _, err := f.e.MPTokenUser(ctx, tok2); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := f.e.MPTokenUser(ctx, "unknown"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown: %v", err)
	}
}

// TestSceneSessionOnce: a failover that loses the scene's "redeemed" write
// but keeps the session (different slots) lets a replayed redeem pass the
// scene's compare-and-set; the session, derived from the scene, is still
// created only once (docs/ARCHITECTURE.md#storage).
func TestSceneSessionOnce(t *testing.T) {
	f := newSceneFixture(t, Config{SessionTTL: time.Hour})
	ctx := t.Context()
	id, tok := f.in(StateConfirmed)
	confirmed := f.rdb.Get(ctx, f.e.sceneKey(id)).Val()

	if _, err := f.e.Redeem(ctx, id, tok); err != nil {
		t.Fatal(err)
	}
	s, rt, err := f.e.CreateSessionForScene(ctx, id, userA, "192.0.2.9", "Chrome")
	if err != nil || s.UserID != userA || s.ID == id || !validID(s.ID) || !strings.HasPrefix(rt, s.ID+".") {
		t.Fatalf("create: %+v %v", s, err)
	}

	// The lost write: the scene is confirmed again, the session remains.
	f.rdb.Set(ctx, f.e.sceneKey(id), confirmed, time.Hour)
	if _, err := f.e.Redeem(ctx, id, tok); err != nil {
		t.Fatalf("replayed redeem after the lost write: %v", err)
	}
	if s2, _, err := f.e.CreateSessionForScene(ctx, id, userA, "198.51.100.1", "curl"); !errors.Is(err, ErrAlreadyRedeemed) {
		t.Fatalf("second session for one scene: %+v %v", s2, err)
	}
	list, err := f.e.UserSessions(ctx, userA)
	if err != nil || len(list) != 1 || list[0].ID != s.ID || list[0].UserAgent != "Chrome" {
		t.Fatalf("sessions: %+v %v", list, err)
	}
	// The first session is untouched: its refresh token still works.
	if _, _, err := f.e.RefreshSession(ctx, rt); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	// Another scene gets another session.
	other, _ := f.in(StateConfirmed)
	if s3, _, err := f.e.CreateSessionForScene(ctx, other, userA, "", ""); err != nil || s3.ID == s.ID {
		t.Fatalf("other scene: %+v %v", s3, err)
	}
}
