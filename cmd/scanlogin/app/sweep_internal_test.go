package app

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// TestSweepAvatars: the periodic sweep deletes uploads nobody claimed once
// they are older than unclaimedAvatarGrace, and leaves younger uploads and
// claimed avatars alone.
func TestSweepAvatars(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	rs := scanlogintest.Start(t)
	a, err := New(t.Context(), Config{
		Addr:        "127.0.0.1:0",
		DatabaseURL: "sqlite://" + filepath.Join(t.TempDir(), "users.db"),
	}, Deps{Redis: rs.Client(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	ctx := t.Context()
	u, _, err := a.Engine.LoginUser(ctx, scanlogin.LoginInfo{OpenID: "oSweep"})
	if err != nil {
		t.Fatal(err)
	}
	put := func() string {
		t.Helper()
		av, err := a.Engine.PutAvatar(ctx, u.ID, "image/png", []byte("\x89PNG\r\n\x1a\nx"))
		if err != nil {
			t.Fatal(err)
		}
		return av.ID
	}
	orphan, claimed := put(), put()
	if _, err := a.Engine.UpdateUser(ctx, u.ID, scanlogin.ProfileUpdate{AvatarID: &claimed}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clock = clock.Add(unclaimedAvatarGrace + time.Minute)
	mu.Unlock()
	young := put()

	sweepCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { a.sweepAvatars(sweepCtx, 10*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := a.Engine.Avatar(ctx, orphan)
		if errors.Is(err, scanlogin.ErrAvatarNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphan upload was not swept: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	for _, id := range []string{claimed, young} {
		if _, err := a.Engine.Avatar(ctx, id); err != nil {
			t.Fatalf("avatar %s swept: %v", id, err)
		}
	}
}
