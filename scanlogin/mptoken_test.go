package scanlogin

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// oldMPToken issues a mini-program token of the form before tokens named
// their user, as IssueMPToken wrote it then: the secret alone, stored
// under mpt:{sha256}.
func oldMPToken(t *testing.T, f *sceneFixture, userID string) string {
	t.Helper()
	tok := newSecret()
	ttl := f.e.cfg.MPTokenTTL
	exp := ms(f.clk.Now().Add(ttl))
	if err := f.rdb.Set(t.Context(), f.e.mpTokenKey(hashToken(tok)), userID+" "+strconv.FormatInt(exp, 10), ttl).Err(); err != nil {
		t.Fatal(err)
	}
	return tok
}

// newCountingFixture is newSceneFixture with the engine's round trips
// counted (the hook is added before the engine's subscriber starts).
func newCountingFixture(t *testing.T, cfg Config) (*sceneFixture, *scanlogintest.RoundTrips) {
	srv := scanlogintest.Start(t)
	clk := newClock()
	cfg.Now = clk.Now
	calls := &scanlogintest.RoundTrips{}
	e, rdb := newTestEngine(t, srv, cfg, func(e *Engine) { e.rdb.AddHook(calls) })
	return &sceneFixture{t: t, e: e, rdb: rdb, srv: srv, clk: clk}, calls
}

// TestScanWithToken: a token of the current form is checked by the scan's
// limit script: the scan is two round trips (that script and the
// transition), records the scanner and keeps the profile from the user
// cache, and the limit still limits, a limited scan changing nothing.
func TestScanWithToken(t *testing.T) {
	f, calls := newCountingFixture(t, Config{ScansPerMinute: 2, MPTokenTTL: time.Hour})
	ctx := t.Context()
	u, _, err := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-scan-token"})
	if err != nil {
		t.Fatal(err)
	}
	nick, avatar := "Token Tess", "https://example.com/a.png"
	if _, err := f.e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &nick, AvatarURL: &avatar}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.e.IssueMPToken(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	warm, _ := f.in(StatePending)
	if _, _, err := f.e.ScanWithToken(ctx, warm, tok); err != nil { // loads the scripts
		t.Fatal(err)
	}

	id, _ := f.in(StatePending)
	f.rdb.ConfigResetStat(ctx)
	trips := calls.Count()
	s, uid, err := f.e.ScanWithToken(ctx, id, tok)
	if err != nil || uid != u.ID || s.State != StateScanned || s.ScannedBy != u.ID ||
		s.Scanner == nil || s.Scanner.Nickname != nick || s.Scanner.AvatarURL != avatar {
		t.Fatalf("scan: %+v %q %v", s, uid, err)
	}
	if n := calls.Count() - trips; n != 2 {
		t.Fatalf("scan: %d round trips, want 2", n)
	}
	want := map[string]int64{"evalsha": 2, "get": 3, "set": 2, "hmget": 1, "publish": 1}
	if c := perLoginWork(f.srv.CommandCalls(ctx, t)); len(c) != len(want) {
		t.Fatalf("scan: %v, want two scripts %v", c, want)
	} else {
		for k, n := range want {
			if c[k] != n {
				t.Fatalf("scan: %v, want two scripts %v", c, want)
			}
		}
	}
	if got, _ := f.e.Scene(ctx, id); got.ScannedBy != u.ID || got.Scanner == nil || got.Scanner.Nickname != nick {
		t.Fatalf("stored scene: %+v", got)
	}
	if s, uid, err := f.e.ScanWithToken(ctx, id, tok); !errors.Is(err, ErrRateLimited) || uid != u.ID || s != nil {
		t.Fatalf("3rd scan: %+v %q %v, want the limit with the user", s, uid, err)
	}

	// The limit: the refused scan changes nothing, another user's token
	// still scans.
	third, _ := f.in(StatePending)
	before := f.snap(third)
	limitState := f.rdb.Get(ctx, f.e.scanLimitKey(u.ID)).Val()
	s, uid, err = f.e.ScanWithToken(ctx, third, tok)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "scan" || le.RetryAfter < 29*time.Second || s != nil || uid != u.ID {
		t.Fatalf("over the limit: %+v %q %v", s, uid, err)
	}
	after := f.snap(third)
	if after.raw != before.raw || after.writes != before.writes || after.publishes != before.publishes {
		t.Fatalf("a limited scan wrote: %+v -> %+v", before, after)
	}
	if f.rdb.Get(ctx, f.e.scanLimitKey(u.ID)).Val() != limitState {
		t.Fatal("a limited scan moved the limit")
	}
	v, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-scan-token-2"})
	vtok, _, _ := f.e.IssueMPToken(ctx, v.ID)
	if s, uid, err := f.e.ScanWithToken(ctx, third, vtok); err != nil || uid != v.ID || s.ScannedBy != v.ID {
		t.Fatalf("another user: %+v %q %v", s, uid, err)
	}
	// The scene's refusals come with the user.
	if _, uid, err := f.e.ScanWithToken(ctx, id, vtok); !errors.Is(err, ErrAlreadyScanned) || uid != v.ID {
		t.Fatalf("a scene scanned by another: %q %v", uid, err)
	}
	if _, uid, err := f.e.ScanWithToken(ctx, "NOT-AN-ID", vtok); !errors.Is(err, ErrInvalidSceneID) || uid != "" {
		t.Fatalf("bad scene ID: %q %v", uid, err)
	}

	// A user cache that cannot be read: the scan counts, without a profile.
	w, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-scan-token-3"})
	wtok, _, _ := f.e.IssueMPToken(ctx, w.ID)
	f.rdb.Set(ctx, f.e.userCacheKey(w.ID), "x", time.Minute) // HMGET fails on a string
	for range 2 {
		if s, uid, err := f.e.ScanWithToken(ctx, f.inID(), wtok); err != nil || uid != w.ID || s.Scanner != nil {
			t.Fatalf("scan with the cache unreadable: %+v %q %v", s, uid, err)
		}
	}
	if _, _, err := f.e.ScanWithToken(ctx, f.inID(), wtok); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("3rd scan with the cache unreadable: %v, want the limit", err)
	}
}

// inID is a pending scene's ID.
func (f *sceneFixture) inID() string {
	id, _ := f.in(StatePending)
	return id
}

// TestScanWithBadToken: an expired token, a revoked one, one whose user
// part names another user, one with a wrong secret, one whose stored user
// is not the one it names, garbage with a '.': all are ErrInvalidToken with
// no user, change no scene and spend none of the scan limit.
func TestScanWithBadToken(t *testing.T) {
	f := newSceneFixture(t, Config{ScansPerMinute: 2, MPTokenTTL: time.Hour})
	ctx := t.Context()
	u, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-bad-token"})
	v, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-bad-token-2"})

	expired, _, _ := f.e.IssueMPToken(ctx, u.ID)
	f.clk.Advance(time.Hour) // Redis still has the key: the engine's clock decides
	revoked, _, _ := f.e.IssueMPToken(ctx, u.ID)
	if err := f.e.RevokeMPToken(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	good, _, _ := f.e.IssueMPToken(ctx, u.ID)
	_, secret, _ := strings.Cut(good, ".")
	// A key in u's slot under the hash of a token naming u whose stored
	// user is v: the stored user must be the one the token names.
	mislaid := u.ID + "." + newSecret()
	f.rdb.Set(ctx, f.e.userMPTokenKey(u.ID, hashToken(mislaid)),
		v.ID+" "+strconv.FormatInt(ms(f.clk.Now().Add(time.Hour)), 10), time.Hour)
	if n := f.rdb.Exists(ctx, f.e.userMPTokenKey(u.ID, hashToken(expired))).Val(); n != 1 {
		t.Fatal("the expired token's key is gone: the test would not test the clock")
	}

	bad := map[string]string{
		"expired":            expired,
		"revoked":            revoked,
		"another user's ID":  v.ID + "." + secret,
		"wrong secret":       u.ID + "." + newSecret(),
		"stored for another": mislaid,
		"no secret":          u.ID + ".",
		"dot only":           ".",
		"garbage with a dot": "x.y",
		"upper-case ID":      strings.ToUpper(u.ID) + "." + secret,
		"secret alone":       secret,
		"too long":           u.ID + "." + strings.Repeat("a", 300),
		"empty":              "",
	}
	for name, tok := range bad {
		id := f.inID()
		before := f.snap(id)
		s, uid, err := f.e.ScanWithToken(ctx, id, tok)
		if !errors.Is(err, ErrInvalidToken) || uid != "" || s != nil {
			t.Errorf("%s: %+v %q %v, want ErrInvalidToken", name, s, uid, err)
		}
		after := f.snap(id)
		if after.raw != before.raw || after.writes != before.writes || after.publishes != before.publishes {
			t.Errorf("%s: the refused scan wrote", name)
		}
		if _, err := f.e.MPTokenUser(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: MPTokenUser: %v", name, err)
		}
	}
	for _, w := range []string{u.ID, v.ID} {
		if n := f.rdb.Exists(ctx, f.e.scanLimitKey(w)).Val(); n != 0 {
			t.Fatalf("refused tokens spent the scan limit of %s", w)
		}
	}
	// The whole limit is left: two scans pass, the third is limited.
	for i := range 2 {
		if _, uid, err := f.e.ScanWithToken(ctx, f.inID(), good); err != nil || uid != u.ID {
			t.Fatalf("scan %d with the good token: %q %v", i+1, uid, err)
		}
	}
	if _, _, err := f.e.ScanWithToken(ctx, f.inID(), good); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("3rd scan: %v, want the limit", err)
	}
}

// TestScanWithTokenNoLimit: with no scan limit the token is still checked
// in the script that reads the profile, and no limit state is written.
func TestScanWithTokenNoLimit(t *testing.T) {
	f := newSceneFixture(t, Config{MPTokenTTL: time.Hour})
	ctx := t.Context()
	u, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-no-limit"})
	nick := "Nolan"
	if _, err := f.e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &nick}); err != nil {
		t.Fatal(err)
	}
	tok, _, _ := f.e.IssueMPToken(ctx, u.ID)
	for range 5 {
		s, uid, err := f.e.ScanWithToken(ctx, f.inID(), tok)
		if err != nil || uid != u.ID || s.Scanner == nil || s.Scanner.Nickname != nick {
			t.Fatalf("scan: %+v %q %v", s, uid, err)
		}
	}
	if _, _, err := f.e.ScanWithToken(ctx, f.inID(), u.ID+"."+newSecret()); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("wrong secret: %v", err)
	}
	if n := f.rdb.Exists(ctx, f.e.scanLimitKey(u.ID)).Val(); n != 0 {
		t.Fatal("no limit, but its state was written")
	}
}

// TestOldFormMPToken: a token issued before tokens named their user (the
// secret alone under mpt:{sha256}) still scans (a round trip more),
// confirms and reads its user until it expires, and revokes.
func TestOldFormMPToken(t *testing.T) {
	f, calls := newCountingFixture(t, Config{ScansPerMinute: 5, MPTokenTTL: time.Hour})
	ctx := t.Context()
	u, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "oid-old-token"})
	nick := "Olga"
	if _, err := f.e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &nick}); err != nil {
		t.Fatal(err)
	}
	tok := oldMPToken(t, f, u.ID)
	if strings.Contains(tok, ".") {
		t.Fatalf("old-form token %q has a dot", tok)
	}

	if uid, err := f.e.MPTokenUser(ctx, tok); err != nil || uid != u.ID {
		t.Fatalf("user of an old-form token: %q %v", uid, err)
	}
	warm := f.inID()
	if _, _, err := f.e.ScanWithToken(ctx, warm, tok); err != nil { // loads the scripts
		t.Fatal(err)
	}
	id, poll := f.in(StatePending)
	f.rdb.ConfigResetStat(ctx)
	trips := calls.Count()
	s, uid, err := f.e.ScanWithToken(ctx, id, tok)
	if err != nil || uid != u.ID || s.ScannedBy != u.ID || s.Scanner == nil || s.Scanner.Nickname != nick {
		t.Fatalf("scan with an old-form token: %+v %q %v", s, uid, err)
	}
	if n := calls.Count() - trips; n != 3 {
		t.Fatalf("old-form scan: %d round trips, want 3", n)
	}
	// The token's GET, then what Scan costs.
	want := map[string]int64{"evalsha": 2, "get": 3, "set": 2, "hmget": 1, "publish": 1}
	c := perLoginWork(f.srv.CommandCalls(ctx, t))
	for k, n := range want {
		if c[k] != n || len(c) != len(want) {
			t.Fatalf("old-form scan: %v, want %v", c, want)
		}
	}
	if _, err := f.e.Confirm(ctx, id, uid, ""); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if r, err := f.e.RedeemScene(ctx, id, poll, "192.0.2.1", "Chrome"); err != nil || r.Session == nil || r.Session.UserID != u.ID {
		t.Fatalf("redeem: %+v %v", r, err)
	}

	if err := f.e.RevokeMPToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := f.rdb.Exists(ctx, f.e.mpTokenKey(hashToken(tok))).Val(); n != 0 {
		t.Fatal("revoke left the old-form key")
	}
	if _, _, err := f.e.ScanWithToken(ctx, f.inID(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked old-form token: %v", err)
	}

	expiring := oldMPToken(t, f, u.ID)
	f.clk.Advance(time.Hour)
	if _, _, err := f.e.ScanWithToken(ctx, f.inID(), expiring); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired old-form token: %v", err)
	}
	if _, err := f.e.MPTokenUser(ctx, expiring); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("user of an expired old-form token: %v", err)
	}
}
