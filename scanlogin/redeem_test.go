package scanlogin

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// confirmedBy returns a scene confirmed by a real user (RedeemScene needs a
// user), its poll token and the user. beforeScan, if set, runs between the
// login and the scan.
func (f *sceneFixture) confirmedBy(openID string, beforeScan ...func(*User)) (string, string, *User) {
	f.t.Helper()
	ctx := f.t.Context()
	u, _, err := f.e.LoginUser(ctx, LoginInfo{OpenID: openID})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, fn := range beforeScan {
		fn(u)
	}
	s, tok, err := f.e.CreateScene(ctx, NewScene{})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.e.Scan(ctx, s.ID, u.ID); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.e.Confirm(ctx, s.ID, u.ID, s.MatchCode); err != nil {
		f.t.Fatal(err)
	}
	return s.ID, tok, u
}

// TestRedeemSceneOnce: of many concurrent redeems of one confirmed scene
// exactly one gets a session, the others ErrAlreadyRedeemed; a replay after
// a lost "redeemed" write opens no second session.
func TestRedeemSceneOnce(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	id, tok, u := f.confirmedBy("oid-redeem")
	confirmed := f.rdb.Get(ctx, f.e.sceneKey(id)).Val()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []*Redemption
		replays int
	)
	for range 50 {
		wg.Go(func() {
			r, err := f.e.RedeemScene(ctx, id, tok, "192.0.2.7", "Firefox")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, r)
			case errors.Is(err, ErrAlreadyRedeemed):
				replays++
			default:
				t.Errorf("redeem: %v", err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 || replays != 49 {
		t.Fatalf("%d sessions and %d already_redeemed, want 1 and 49", len(winners), replays)
	}
	r := winners[0]
	if r.Scene.State != StateRedeemed || r.User.ID != u.ID || r.Session.UserID != u.ID || r.Session.IP != "192.0.2.7" ||
		!strings.HasPrefix(r.RefreshToken, r.Session.ID+".") {
		t.Fatalf("redemption: scene %+v user %+v session %+v", r.Scene, r.User, r.Session)
	}

	f.rdb.Set(ctx, f.e.sceneKey(id), confirmed, time.Hour) // the lost write
	if _, err := f.e.RedeemScene(ctx, id, tok, "198.51.100.1", "curl"); !errors.Is(err, ErrAlreadyRedeemed) {
		t.Fatalf("replay after the lost write: %v", err)
	}
	if list, err := f.e.UserSessions(ctx, u.ID); err != nil || len(list) != 1 {
		t.Fatalf("sessions: %+v %v", list, err)
	}
}

// TestRedeemSceneFailures: trouble before the scene is spent changes
// nothing (a retry signs in); trouble after it is ErrRedeemFailed, final,
// and not ErrUnavailable (a retry could only be refused).
func TestRedeemSceneFailures(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()

	// A user not cached at the scan (the scene keeps no profile) is read
	// before the scene is spent: a read that fails leaves it redeemable.
	var key string
	id, tok, u := f.confirmedBy("oid-unreadable", func(u *User) {
		key = f.e.userCacheKey(u.ID)
		f.rdb.Rename(ctx, key, key+":saved")
		f.rdb.Set(ctx, key, "x", time.Minute) // a wrong type fails the read as an outage would
	})
	if r, err := f.e.RedeemScene(ctx, id, tok, "", ""); !errors.Is(err, ErrUnavailable) || r == nil || r.Scene.ScannedBy != u.ID {
		t.Fatalf("user unreadable: %+v %v", r, err)
	}
	if s, _ := f.e.Scene(ctx, id); s.State != StateConfirmed {
		t.Fatalf("the scene is %s, want confirmed (still redeemable)", s.State)
	}
	f.rdb.Del(ctx, key)
	f.rdb.Rename(ctx, key+":saved", key)
	if _, err := f.e.RedeemScene(ctx, id, tok, "", ""); err != nil {
		t.Fatalf("retry: %v", err)
	}

	id, tok, u = f.confirmedBy("oid-unwritable")
	f.rdb.Set(ctx, f.e.userSessKey(u.ID), "x", time.Minute)
	r, err := f.e.RedeemScene(ctx, id, tok, "", "")
	if !errors.Is(err, ErrRedeemFailed) || errors.Is(err, ErrUnavailable) || r.Session != nil {
		t.Fatalf("session unwritable: %+v %v", r, err)
	}
	if s, _ := f.e.Scene(ctx, id); s.State != StateRedeemed {
		t.Fatalf("the scene is %s, want redeemed (spent)", s.State)
	}

	pending, ptok := f.in(StatePending)
	if _, err := f.e.RedeemScene(ctx, pending, ptok, "", ""); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("pending scene: %v", err)
	}
	if _, err := f.e.RedeemScene(ctx, pending, "wrong", "", ""); !errors.Is(err, ErrInvalidPollToken) {
		t.Fatalf("wrong token: %v", err)
	}
}

// TestRedeemSceneRecordsSignIn: a redeem adds one entry to the user's
// sign-in history in the store, in the background; a refused redeem adds
// none.
func TestRedeemSceneRecordsSignIn(t *testing.T) {
	srv := scanlogintest.Start(t)
	clk := newClock()
	got := make(chan SignIn, 4)
	e, rdb := newTestEngine(t, srv, Config{Now: clk.Now}, func(e *Engine) {
		e.signIns.recorded = func(in SignIn, err error) {
			if err != nil {
				t.Errorf("record: %v", err)
			}
			got <- in
		}
	})
	f := &sceneFixture{t: t, e: e, rdb: rdb, srv: srv, clk: clk}
	id, tok, u := f.confirmedBy("oid-history")
	r, err := e.RedeemScene(t.Context(), id, tok, "192.0.2.7", "Firefox")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.RedeemScene(t.Context(), id, tok, "192.0.2.7", "Firefox"); !errors.Is(err, ErrAlreadyRedeemed) {
		t.Fatalf("replay: %v", err)
	}
	select {
	case in := <-got:
		want := SignIn{UserID: u.ID, At: clk.Now(), Kind: SignInRedeem, Client: id, SessionID: r.Session.ID, IP: "192.0.2.7", UserAgent: "Firefox"}
		if in != want {
			t.Fatalf("recorded %+v, want %+v", in, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no sign-in recorded")
	}
	select {
	case in := <-got:
		t.Fatalf("a refused redeem was recorded: %+v", in)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestRedeemSceneScannerProfile: the scan keeps the scanner's profile from
// the user cache in the scene, so the redeem reads no user (here every
// read of the cache would fail) and answers with that profile; a scanner
// who was not cached at the scan is read from the store at the redeem.
func TestRedeemSceneScannerProfile(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	nick, avatar := "小明", "https://thirdwx.qlogo.cn/a.png"
	named := func(u *User) {
		if _, err := f.e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &nick, AvatarURL: &avatar}); err != nil {
			t.Fatal(err)
		}
	}

	id, tok, u := f.confirmedBy("oid-profile", named)
	s, err := f.e.Authorize(ctx, id, tok)
	if err != nil || s.Scanner == nil || *s.Scanner != (ScannerProfile{Nickname: nick, AvatarURL: avatar}) {
		t.Fatalf("scene after the scan: %+v %v", s, err)
	}
	f.rdb.Set(ctx, f.e.userCacheKey(u.ID), "x", time.Minute) // any user read fails now
	r, err := f.e.RedeemScene(ctx, id, tok, "", "")
	if err != nil || r.User.ID != u.ID || r.User.Nickname != nick || r.User.AvatarURL != avatar {
		t.Fatalf("redeem: %+v %v", r, err)
	}

	id, tok, u = f.confirmedBy("oid-uncached", named, func(u *User) { f.rdb.Del(ctx, f.e.userCacheKey(u.ID)) })
	if s, err := f.e.Authorize(ctx, id, tok); err != nil || s.Scanner != nil {
		t.Fatalf("scene scanned by a user not cached: %+v %v", s, err)
	}
	r, err = f.e.RedeemScene(ctx, id, tok, "", "")
	if err != nil || r.User.ID != u.ID || r.User.Nickname != nick || r.User.OpenID != "oid-uncached" {
		t.Fatalf("redeem of a scene without the profile: %+v %v", r, err)
	}
}
