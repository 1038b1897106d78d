package sqlstore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
)

// TestAvatarLifecycle: an upload is served at once but unclaimed; a profile
// save claims it and deletes the avatar claimed before; uploads nobody
// claimed are collected after a while; another user's upload cannot be
// claimed.
func TestAvatarLifecycle(t *testing.T) {
	clock := time.UnixMilli(1_700_000_000_000)
	eachBackend(t, sqlstore.Config{Now: func() time.Time { return clock }}, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		u, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp", OpenID: "o-1"})
		if err != nil {
			t.Fatal(err)
		}
		img := append([]byte("\x89PNG\r\n\x1a\n\x00"), bytes.Repeat([]byte{0, 255, 1}, 700_000)...) // ~2 MiB, NULs included
		first, err := s.PutAvatar(ctx, u.ID, "image/png", img)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(img)
		if first.SHA256 != hex.EncodeToString(sum[:]) || first.Size != len(img) || !first.ClaimedAt.IsZero() || len(first.ID) != 32 {
			t.Fatalf("PutAvatar = %+v", first)
		}
		got, err := s.Avatar(ctx, first.ID)
		if err != nil || !bytes.Equal(got.Data, img) || got.ContentType != "image/png" || got.SHA256 != first.SHA256 ||
			got.UserID != u.ID || !got.ClaimedAt.IsZero() || !got.CreatedAt.Equal(clock) {
			t.Fatalf("Avatar(unclaimed) = %+v (data %d bytes), %v", got.ContentType, len(got.Data), err)
		}

		clock = clock.Add(time.Minute)
		url1 := "https://login.example.com/api/v1/avatars/" + first.ID
		prof, err := s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{AvatarURL: &url1, AvatarID: &first.ID})
		if err != nil || prof.AvatarID != first.ID || prof.AvatarURL != url1 {
			t.Fatalf("claim first: %+v, %v", prof, err)
		}
		if got, err := s.Avatar(ctx, first.ID); err != nil || !got.ClaimedAt.Equal(clock) {
			t.Fatalf("claimed avatar: %+v, %v", got, err)
		}

		// A second upload, claimed: the first is deleted.
		second, err := s.PutAvatar(ctx, u.ID, "image/webp", []byte("RIFF0000WEBPVP8 "))
		if err != nil {
			t.Fatal(err)
		}
		if prof, err = s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{AvatarID: &second.ID}); err != nil || prof.AvatarID != second.ID {
			t.Fatalf("claim second: %+v, %v", prof, err)
		}
		if _, err := s.Avatar(ctx, first.ID); !errors.Is(err, scanlogin.ErrAvatarNotFound) {
			t.Fatalf("first avatar after the second was claimed: err = %v", err)
		}
		// Claiming it again changes nothing.
		if prof, err = s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{AvatarID: &second.ID}); err != nil || prof.AvatarID != second.ID {
			t.Fatalf("claim second again: %+v, %v", prof, err)
		}

		// Another user cannot claim it, nor an upload that does not exist.
		other, _, err := s.LoginUser(ctx, sqlstore.Identity{AppID: "wxapp", OpenID: "o-2"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateProfile(ctx, other.ID, sqlstore.ProfileUpdate{AvatarID: &second.ID, Nickname: ptr("thief")}); !errors.Is(err, scanlogin.ErrAvatarNotFound) {
			t.Fatalf("claiming another user's avatar: err = %v", err)
		}
		if o, err := s.User(ctx, other.ID); err != nil || o.Nickname != "" || o.AvatarID != "" {
			t.Fatalf("a refused claim changed the profile: %+v, %v", o, err)
		}

		// Two unclaimed uploads, one old and one new: the collector takes
		// the old one only, and never a claimed avatar.
		old, err := s.PutAvatar(ctx, other.ID, "image/png", []byte("old"))
		if err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(2 * time.Hour)
		fresh, err := s.PutAvatar(ctx, other.ID, "image/png", []byte("fresh"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.DeleteUnclaimedAvatars(ctx, clock.Add(-time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("DeleteUnclaimedAvatars = %d, %v; want 1", n, err)
		}
		for id, want := range map[string]bool{old.ID: false, fresh.ID: true, second.ID: true} {
			if _, err := s.Avatar(ctx, id); (err == nil) != want {
				t.Fatalf("avatar %s kept=%v, want %v", id, err == nil, want)
			}
		}

		// Releasing: "" deletes the claimed avatar.
		if prof, err = s.UpdateProfile(ctx, u.ID, sqlstore.ProfileUpdate{AvatarID: ptr(""), AvatarURL: ptr("https://thirdwx.qlogo.cn/x")}); err != nil || prof.AvatarID != "" {
			t.Fatalf("release: %+v, %v", prof, err)
		}
		if _, err := s.Avatar(ctx, second.ID); !errors.Is(err, scanlogin.ErrAvatarNotFound) {
			t.Fatalf("released avatar: err = %v", err)
		}

		if _, err := s.PutAvatar(ctx, "0123456789abcdef0123456789abcdef", "image/png", []byte("x")); !errors.Is(err, scanlogin.ErrUserNotFound) {
			t.Fatalf("PutAvatar(unknown user) err = %v", err)
		}
		if _, err := s.Avatar(ctx, "nope"); !errors.Is(err, scanlogin.ErrAvatarNotFound) {
			t.Fatalf("Avatar(unknown) err = %v", err)
		}
	})
}
