package scanlogin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

const (
	userA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	userB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// sceneFixture builds scenes in every state through real transitions.
type sceneFixture struct {
	t   *testing.T
	e   *Engine
	rdb *redis.Client
	srv *scanlogintest.Server
	clk *clock
}

func newSceneFixture(t *testing.T, cfg Config) *sceneFixture {
	srv := scanlogintest.Start(t)
	clk := newClock()
	cfg.Now = clk.Now
	e, rdb := newTestEngine(t, srv, cfg, nil)
	return &sceneFixture{t: t, e: e, rdb: rdb, srv: srv, clk: clk}
}

// in returns a scene in state st (scanned and later states by userA) and
// its poll token.
func (f *sceneFixture) in(st State) (string, string) {
	f.t.Helper()
	ctx := f.t.Context()
	s, tok, err := f.e.CreateScene(ctx, NewScene{BrowserIP: "192.0.2.1", BrowserUserAgent: "Firefox"})
	if err != nil {
		f.t.Fatal(err)
	}
	step := func(_ *Scene, err error) {
		f.t.Helper()
		if err != nil {
			f.t.Fatalf("prepare %s: %v", st, err)
		}
	}
	switch st {
	case StatePending:
	case StateScanned:
		step(f.e.Scan(ctx, s.ID, userA))
	case StateConfirmed:
		step(f.e.Scan(ctx, s.ID, userA))
		step(f.e.Confirm(ctx, s.ID, userA, s.MatchCode))
	case StateRedeemed:
		step(f.e.Scan(ctx, s.ID, userA))
		step(f.e.Confirm(ctx, s.ID, userA, s.MatchCode))
		step(f.e.Redeem(ctx, s.ID, tok))
	case StateCancelled:
		step(f.e.CancelByBrowser(ctx, s.ID, tok))
	case StateExpired:
		f.clk.Advance(f.e.cfg.SceneTTL) // exactly at the deadline counts as expired
	default:
		f.t.Fatalf("no fixture for %s", st)
	}
	return s.ID, tok
}

// snapshot is everything a transition could change: the stored bytes and
// the write/publish counters of the server.
type snapshot struct {
	raw               string
	writes, publishes int64
}

func (f *sceneFixture) snap(id string) snapshot {
	f.t.Helper()
	raw, err := f.rdb.Get(f.t.Context(), f.e.sceneKey(id)).Result()
	if err != nil {
		f.t.Fatalf("snapshot: %v", err)
	}
	c := f.srv.CommandCalls(f.t.Context(), f.t)
	return snapshot{raw: raw, writes: c["set"] + c["del"] + c["pexpire"] + c["hset"], publishes: c["publish"]}
}

func TestTransitions(t *testing.T) {
	type op func(e *Engine, ctx context.Context, id, tok string) (*Scene, error)
	scan := func(user string) op {
		return func(e *Engine, ctx context.Context, id, _ string) (*Scene, error) { return e.Scan(ctx, id, user) }
	}
	confirm := func(user string) op {
		return func(e *Engine, ctx context.Context, id, _ string) (*Scene, error) {
			s, err := e.Scene(ctx, id)
			if err != nil {
				return nil, err
			}
			return e.Confirm(ctx, id, user, s.MatchCode)
		}
	}
	cancel := func(user string) op {
		return func(e *Engine, ctx context.Context, id, _ string) (*Scene, error) { return e.Cancel(ctx, id, user) }
	}
	bcancel := func(e *Engine, ctx context.Context, id, tok string) (*Scene, error) {
		return e.CancelByBrowser(ctx, id, tok)
	}
	bcancelBadToken := func(e *Engine, ctx context.Context, id, _ string) (*Scene, error) {
		return e.CancelByBrowser(ctx, id, "not-the-token")
	}
	redeem := func(e *Engine, ctx context.Context, id, tok string) (*Scene, error) { return e.Redeem(ctx, id, tok) }
	redeemBadToken := func(e *Engine, ctx context.Context, id, _ string) (*Scene, error) {
		return e.Redeem(ctx, id, "not-the-token")
	}

	tests := []struct {
		name    string
		from    State
		op      op
		wantErr error // nil: the transition succeeds
		want    State // state after success; "" = idempotent repeat, nothing changes
	}{
		{"scan pending", StatePending, scan(userA), nil, StateScanned},
		{"rescan by scanner is idempotent", StateScanned, scan(userA), nil, ""},
		{"scan by another user", StateScanned, scan(userB), ErrAlreadyScanned, ""},
		{"scan confirmed by another user", StateConfirmed, scan(userB), ErrAlreadyScanned, ""},
		{"rescan confirmed by scanner", StateConfirmed, scan(userA), nil, ""},
		{"scan redeemed", StateRedeemed, scan(userA), ErrSceneFinal, ""},
		{"scan cancelled", StateCancelled, scan(userA), ErrSceneFinal, ""},
		{"scan expired", StateExpired, scan(userA), ErrSceneExpired, ""},

		{"confirm before scan", StatePending, confirm(userA), ErrNotScanned, ""},
		{"confirm by another user", StateScanned, confirm(userB), ErrNotScanner, ""},
		{"confirm scanned", StateScanned, confirm(userA), nil, StateConfirmed},
		{"confirm again is idempotent", StateConfirmed, confirm(userA), nil, ""},
		{"confirm confirmed by another user", StateConfirmed, confirm(userB), ErrNotScanner, ""},
		{"confirm redeemed", StateRedeemed, confirm(userA), ErrSceneFinal, ""},
		{"confirm cancelled", StateCancelled, confirm(userA), ErrSceneFinal, ""},
		{"confirm expired", StateExpired, confirm(userA), ErrSceneExpired, ""},

		{"scanner cancel before scan", StatePending, cancel(userA), ErrNotScanned, ""},
		{"cancel by another user", StateScanned, cancel(userB), ErrNotScanner, ""},
		{"scanner cancels scanned", StateScanned, cancel(userA), nil, StateCancelled},
		{"scanner cancels confirmed", StateConfirmed, cancel(userA), nil, StateCancelled},
		{"cancel cancelled", StateCancelled, cancel(userA), ErrSceneFinal, ""},
		{"cancel redeemed", StateRedeemed, cancel(userA), ErrSceneFinal, ""},
		{"cancel expired", StateExpired, cancel(userA), ErrSceneExpired, ""},

		{"browser cancels pending", StatePending, bcancel, nil, StateCancelled},
		{"browser cancels scanned", StateScanned, bcancel, nil, StateCancelled},
		{"browser cancels confirmed", StateConfirmed, bcancel, nil, StateCancelled},
		{"browser cancel with wrong token", StateScanned, bcancelBadToken, ErrInvalidPollToken, ""},
		{"browser cancel redeemed", StateRedeemed, bcancel, ErrSceneFinal, ""},
		{"browser cancel expired", StateExpired, bcancel, ErrSceneExpired, ""},

		{"redeem pending", StatePending, redeem, ErrNotConfirmed, ""},
		{"redeem scanned", StateScanned, redeem, ErrNotConfirmed, ""},
		{"redeem confirmed", StateConfirmed, redeem, nil, StateRedeemed},
		{"redeem twice", StateRedeemed, redeem, ErrAlreadyRedeemed, ""},
		{"redeem cancelled", StateCancelled, redeem, ErrSceneFinal, ""},
		{"redeem expired", StateExpired, redeem, ErrSceneExpired, ""},
		{"redeem with wrong token", StateConfirmed, redeemBadToken, ErrInvalidPollToken, ""},
		{"redeem redeemed with wrong token", StateRedeemed, redeemBadToken, ErrInvalidPollToken, ""},
	}
	f := newSceneFixture(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.t = t
			ctx := t.Context()
			id, tok := f.in(tt.from)
			before := f.snap(id)
			prev, err := f.e.Scene(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.op(f.e, ctx, id, tok)
			after := f.snap(id)
			if tt.wantErr != nil || tt.want == "" {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if after.raw != before.raw {
					t.Errorf("refused/idempotent op changed the scene:\n%s\n%s", before.raw, after.raw)
				}
				// The snapshot itself issues no writes; the delta is the op's.
				if after.writes != before.writes || after.publishes != before.publishes {
					t.Errorf("refused/idempotent op wrote %d times and published %d times",
						after.writes-before.writes, after.publishes-before.publishes)
				}
				now, _ := f.e.Scene(ctx, id)
				if now.State != prev.State || now.Version != prev.Version {
					t.Errorf("scene went %s/v%d -> %s/v%d", prev.State, prev.Version, now.State, now.Version)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.State != tt.want || got.Version != prev.Version+1 {
				t.Fatalf("got %s v%d, want %s v%d", got.State, got.Version, tt.want, prev.Version+1)
			}
			// The browser's own redeem and cancel wake nobody: only the
			// poll-token holder may wait, and it is the one acting.
			wantPub := int64(1)
			if tt.want == StateRedeemed || strings.HasPrefix(tt.name, "browser cancels") {
				wantPub = 0
			}
			if after.publishes != before.publishes+wantPub {
				t.Errorf("published %d wake-ups, want %d", after.publishes-before.publishes, wantPub)
			}
			stored, _ := f.e.Scene(ctx, id)
			if stored.State != tt.want || stored.Version != got.Version {
				t.Errorf("stored %s v%d, returned %s v%d", stored.State, stored.Version, got.State, got.Version)
			}
			if tt.want.Final() != got.ExpiresAt.IsZero() {
				t.Errorf("ExpiresAt = %v for %s", got.ExpiresAt, got.State)
			}
		})
	}
}

func TestSceneBasics(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	s, tok, err := f.e.CreateScene(ctx, NewScene{BrowserIP: "192.0.2.7", BrowserUserAgent: strings.Repeat("u", 2000)})
	if err != nil {
		t.Fatal(err)
	}
	if !validID(s.ID) || s.State != StatePending || s.Version != 1 || len(s.MatchCode) != 2 || s.MatchChoices != nil {
		t.Fatalf("new scene %+v", s)
	}
	if len(tok) < 22 { // >= 128 bits in base64url
		t.Fatalf("poll token too short: %d chars", len(tok))
	}
	if got := s.ExpiresAt.Sub(f.clk.Now()); got != 120*time.Second {
		t.Errorf("pending lifetime %v, want 120s", got)
	}
	raw, _ := f.rdb.Get(ctx, f.e.sceneKey(s.ID)).Result()
	if strings.Contains(raw, tok) || !strings.Contains(raw, hashToken(tok)) {
		t.Error("Redis must hold the poll token's hash and never the token")
	}
	if len(s.BrowserUserAgent) != maxUserAgent {
		t.Errorf("user agent not truncated: %d", len(s.BrowserUserAgent))
	}
	ttl := f.rdb.PTTL(ctx, f.e.sceneKey(s.ID)).Val()
	if ttl < 120*time.Second+gcGrace-5*time.Second || ttl > 120*time.Second+gcGrace {
		t.Errorf("key TTL %v, want deadline + GC grace", ttl)
	}
	if !strings.Contains(f.e.sceneKey(s.ID), "{"+s.ID+"}") || !strings.Contains(f.e.imageKey(s.ID), "{"+s.ID+"}") {
		t.Error("scene keys must share the scene's hash tag")
	}

	if _, err := f.e.Authorize(ctx, s.ID, "wrong"); !errors.Is(err, ErrInvalidPollToken) {
		t.Errorf("wrong token: %v", err)
	}
	if _, err := f.e.Authorize(ctx, s.ID, tok); err != nil {
		t.Errorf("right token: %v", err)
	}
	if _, err := f.e.Scene(ctx, "NOT-AN-ID"); !errors.Is(err, ErrInvalidSceneID) {
		t.Errorf("bad id: %v", err)
	}
	missing := newID()
	if _, err := f.e.Scene(ctx, missing); !errors.Is(err, ErrSceneNotFound) {
		t.Errorf("missing scene: %v", err)
	}
	for name, fn := range map[string]func() error{
		"scan":    func() error { _, err := f.e.Scan(ctx, missing, userA); return err },
		"redeem":  func() error { _, err := f.e.Redeem(ctx, missing, tok); return err },
		"bcancel": func() error { _, err := f.e.CancelByBrowser(ctx, missing, tok); return err },
	} {
		if err := fn(); !errors.Is(err, ErrSceneNotFound) {
			t.Errorf("%s on a missing scene: %v", name, err)
		}
	}

	// QR image cache.
	if _, _, err := f.e.SceneImage(ctx, s.ID); !errors.Is(err, ErrSceneNotFound) {
		t.Errorf("image before put: %v", err)
	}
	if err := f.e.PutSceneImage(ctx, s.ID, "image/png", []byte("\x89PNG\x00data")); err != nil {
		t.Fatal(err)
	}
	ct, data, err := f.e.SceneImage(ctx, s.ID)
	if err != nil || ct != "image/png" || string(data) != "\x89PNG\x00data" {
		t.Errorf("image = %q %q %v", ct, data, err)
	}
	if it := f.rdb.PTTL(ctx, f.e.imageKey(s.ID)).Val(); it <= 0 || it > ttl {
		t.Errorf("image TTL %v, want <= scene TTL %v", it, ttl)
	}
	if err := f.e.PutSceneImage(ctx, missing, "image/png", nil); !errors.Is(err, ErrSceneNotFound) {
		t.Errorf("image for a missing scene: %v", err)
	}
}

func TestNumberMatch(t *testing.T) {
	f := newSceneFixture(t, Config{NumberMatch: true})
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		pick    func(s *Scene) string
		wantErr error
		want    State
	}{
		{"right pick confirms", func(s *Scene) string { return s.MatchCode }, nil, StateConfirmed},
		{"wrong pick cancels", func(s *Scene) string {
			for _, c := range s.MatchChoices {
				if c != s.MatchCode {
					return c
				}
			}
			return ""
		}, ErrMatchMismatch, StateCancelled},
		// No pick at all is a request to refuse, not a wrong answer: the
		// scanner can still pick.
		{"no pick changes nothing", func(*Scene) string { return "" }, ErrMatchRequired, StateScanned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := f.e.CreateScene(ctx, NewScene{})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.MatchChoices) != 3 || !contains(s.MatchChoices, s.MatchCode) ||
				s.MatchChoices[0] == s.MatchChoices[1] || s.MatchChoices[1] == s.MatchChoices[2] || s.MatchChoices[0] == s.MatchChoices[2] {
				t.Fatalf("choices %v for %s", s.MatchChoices, s.MatchCode)
			}
			sc, err := f.e.Scan(ctx, s.ID, userA)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(sc.MatchChoices, ",") != strings.Join(s.MatchChoices, ",") {
				t.Errorf("choices not stable: %v then %v", s.MatchChoices, sc.MatchChoices)
			}
			got, err := f.e.Confirm(ctx, s.ID, userA, tc.pick(s))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			stored, _ := f.e.Scene(ctx, s.ID)
			wantV := int64(3)
			if tc.want == StateScanned {
				wantV = 2
			}
			if stored.State != tc.want || stored.Version != wantV || got.State != tc.want {
				t.Fatalf("stored %s v%d, want %s v%d", stored.State, stored.Version, tc.want, wantV)
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestDeadlines: the confirm window comes from the first scan and stops at
// the hard cap; rescans and refusals never move a deadline; expiry is judged
// by the injected clock on every read while Redis keeps the key.
func TestDeadlines(t *testing.T) {
	t.Run("confirm window from first scan", func(t *testing.T) {
		f := newSceneFixture(t, Config{})
		ctx := t.Context()
		t0 := f.clk.Now()
		s, _, _ := f.e.CreateScene(ctx, NewScene{})
		f.clk.Advance(100 * time.Second)
		sc, err := f.e.Scan(ctx, s.ID, userA)
		if err != nil {
			t.Fatal(err)
		}
		if want := t0.Add(160 * time.Second); !sc.ExpiresAt.Equal(want) {
			t.Fatalf("confirm deadline %v, want %v (scan + 60s)", sc.ExpiresAt, want)
		}
		f.clk.Advance(50 * time.Second)
		re, err := f.e.Scan(ctx, s.ID, userA)
		if err != nil || !re.ExpiresAt.Equal(sc.ExpiresAt) || re.Version != sc.Version {
			t.Fatalf("rescan moved the scene: %v v%d (%v)", re.ExpiresAt, re.Version, err)
		}
		if _, err := f.e.Scan(ctx, s.ID, userB); !errors.Is(err, ErrAlreadyScanned) {
			t.Fatal(err)
		}
		f.clk.Advance(10 * time.Second) // t0+160: the deadline
		got, _ := f.e.Scene(ctx, s.ID)
		if got.State != StateExpired || got.Version != sc.Version+1 || !got.ExpiresAt.IsZero() {
			t.Fatalf("at the deadline: %s v%d", got.State, got.Version)
		}
		if _, err := f.e.Confirm(ctx, s.ID, userA, ""); !errors.Is(err, ErrSceneExpired) {
			t.Fatalf("confirm after deadline: %v", err)
		}
	})
	t.Run("hard cap", func(t *testing.T) {
		f := newSceneFixture(t, Config{SceneTTL: 290 * time.Second, HardCap: 300 * time.Second})
		ctx := t.Context()
		t0 := f.clk.Now()
		s, _, _ := f.e.CreateScene(ctx, NewScene{})
		f.clk.Advance(280 * time.Second)
		sc, err := f.e.Scan(ctx, s.ID, userA)
		if err != nil {
			t.Fatal(err)
		}
		if want := t0.Add(300 * time.Second); !sc.ExpiresAt.Equal(want) {
			t.Fatalf("confirm deadline %v, want the hard cap %v", sc.ExpiresAt, want)
		}
		f.clk.Advance(20 * time.Second)
		if _, err := f.e.Confirm(ctx, s.ID, userA, ""); !errors.Is(err, ErrSceneExpired) {
			t.Fatalf("confirm at the hard cap: %v", err)
		}
	})
	t.Run("pending never outlives the hard cap", func(t *testing.T) {
		f := newSceneFixture(t, Config{SceneTTL: time.Hour, HardCap: time.Minute})
		s, _, _ := f.e.CreateScene(t.Context(), NewScene{})
		if got := s.ExpiresAt.Sub(s.CreatedAt); got != time.Minute {
			t.Fatalf("pending lifetime %v, want the 1m hard cap", got)
		}
	})
	t.Run("redeem window", func(t *testing.T) {
		f := newSceneFixture(t, Config{})
		ctx := t.Context()
		id, tok := f.in(StateConfirmed)
		cf, _ := f.e.Scene(ctx, id)
		if got := cf.ExpiresAt.Sub(f.clk.Now()); got != 60*time.Second {
			t.Fatalf("redeem window %v, want 60s", got)
		}
		f.clk.Advance(60 * time.Second)
		if _, err := f.e.Redeem(ctx, id, tok); !errors.Is(err, ErrSceneExpired) {
			t.Fatalf("redeem after the window: %v", err)
		}
	})
	t.Run("late polls still see expired; redis collects later", func(t *testing.T) {
		f := newSceneFixture(t, Config{})
		ctx := t.Context()
		id, tok := f.in(StatePending)
		f.clk.Advance(4 * time.Minute)
		s, err := f.e.Authorize(ctx, id, tok)
		if err != nil || s.State != StateExpired {
			t.Fatalf("late poll: %v %v", s, err)
		}
		if f.rdb.PTTL(ctx, f.e.sceneKey(id)).Val() <= 0 {
			t.Fatal("key should still carry a GC TTL")
		}
	})
}

// TestScriptReloadAfterFlush: the scripts come back after SCRIPT FLUSH (as
// after a restart or failover) without the caller noticing.
func TestScriptReloadAfterFlush(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	id, _ := f.in(StatePending)
	if err := f.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.Scan(ctx, id, userA); err != nil {
		t.Fatalf("scan after SCRIPT FLUSH: %v", err)
	}
	c := f.srv.CommandCalls(ctx, t)
	if c["evalsha"] < 1 || c["eval"] < 1 {
		t.Fatalf("want EVALSHA then EVAL on NOSCRIPT, got %v", c)
	}
}

// TestSessionScriptReloadAfterFlush: the scene session's create-if-absent,
// sent in a pipeline with its index, also survives SCRIPT FLUSH, and still
// refuses a second session afterwards.
func TestSessionScriptReloadAfterFlush(t *testing.T) {
	f := newSceneFixture(t, Config{})
	ctx := t.Context()
	scene := newID()
	if err := f.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s, rt, err := f.e.CreateSessionForScene(ctx, scene, userA, "192.0.2.1", "Chrome")
	if err != nil || rt == "" {
		t.Fatalf("create after SCRIPT FLUSH: %v %v", s, err)
	}
	if _, err := f.e.SessionAlive(ctx, s.ID); err != nil {
		t.Fatalf("session not stored: %v", err)
	}
	if _, _, err := f.e.CreateSessionForScene(ctx, scene, userA, "", ""); !errors.Is(err, ErrAlreadyRedeemed) {
		t.Fatalf("second session for the scene: %v, want ErrAlreadyRedeemed", err)
	}
	if list, err := f.e.UserSessions(ctx, userA); err != nil || len(list) != 1 {
		t.Fatalf("user sessions: %v %v", list, err)
	}
}

// TestDecodeSceneLenient: a record with a byte that is not UTF-8 (a
// nickname the scan script copied as it was) or a name twice still reads,
// as encoding/json read it; a record that is not JSON does not.
func TestDecodeSceneLenient(t *testing.T) {
	raw := []byte("{\"id\":\"s1\",\"st\":\"pending\",\"st\":\"scanned\",\"v\":2,\"sp\":{\"n\":\"A\xffB\",\"a\":\"\"}}")
	rec, err := decodeScene("s1", raw)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != StateScanned || rec.Scanner == nil || rec.Scanner.Nickname != "A\uFFFDB" {
		t.Errorf("decoded %+v, scanner %+v", rec, rec.Scanner)
	}
	if _, err := decodeScene("s1", []byte(`{"id":"s1","st":`)); err == nil {
		t.Error("a cut record decoded")
	}
}
