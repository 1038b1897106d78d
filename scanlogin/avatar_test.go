package scanlogin

import (
	"errors"
	"testing"
	"time"
)

// TestAvatarUploads: an upload is pending with a TTL on the real Redis until
// a profile save claims it; an unclaimed upload expires by itself; claiming
// replaces (deletes) the previous avatar; only the uploader's own pending
// upload can be claimed.
func TestAvatarUploads(t *testing.T) {
	f := newSceneFixture(t, Config{AvatarUploadTTL: 400 * time.Millisecond})
	ctx := t.Context()
	u, _, err := f.e.LoginUser(ctx, LoginInfo{OpenID: "o_avatar"})
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := f.e.LoginUser(ctx, LoginInfo{OpenID: "o_avatar_other"})

	id1, err := f.e.PutAvatar(ctx, u.ID, "image/png", []byte("png-1"))
	if err != nil {
		t.Fatal(err)
	}
	if ct, data, err := f.e.Avatar(ctx, id1); err != nil || ct != "image/png" || string(data) != "png-1" {
		t.Fatalf("avatar: %q %q %v", ct, data, err)
	}
	if ttl := f.rdb.PTTL(ctx, f.e.avatarKey(id1)).Val(); ttl <= 0 || ttl > 400*time.Millisecond {
		t.Fatalf("a fresh upload's TTL is %v, want (0, 400ms]", ttl)
	}
	if got, _ := f.e.User(ctx, u.ID); got.AvatarURL != "" {
		t.Fatalf("an upload changed the profile: %q", got.AvatarURL)
	}
	if _, err := f.e.ClaimAvatar(ctx, other.ID, id1, "https://x/"+id1); !errors.Is(err, ErrAvatarNotFound) {
		t.Fatalf("another user claimed the upload: %v", err)
	}

	got, err := f.e.ClaimAvatar(ctx, u.ID, id1, "https://x/"+id1)
	if err != nil || got.AvatarURL != "https://x/"+id1 {
		t.Fatalf("claim: %+v %v", got, err)
	}
	if ttl := f.rdb.TTL(ctx, f.e.avatarKey(id1)).Val(); ttl != -1 {
		t.Fatalf("a claimed avatar's TTL is %v, want none (-1)", ttl)
	}
	if _, err := f.e.ClaimAvatar(ctx, u.ID, id1, "https://x/"+id1); err != nil {
		t.Fatalf("claiming the current avatar again: %v", err)
	}

	// An upload no save names is gone after its TTL; the claimed one stays.
	orphan, _ := f.e.PutAvatar(ctx, u.ID, "image/webp", []byte("webp-2"))
	time.Sleep(600 * time.Millisecond)
	if _, _, err := f.e.Avatar(ctx, orphan); !errors.Is(err, ErrAvatarNotFound) {
		t.Fatalf("an unclaimed upload outlived its TTL: %v", err)
	}
	if _, err := f.e.ClaimAvatar(ctx, u.ID, orphan, "https://x/"+orphan); !errors.Is(err, ErrAvatarNotFound) {
		t.Fatalf("an expired upload was claimed: %v", err)
	}
	if _, _, err := f.e.Avatar(ctx, id1); err != nil {
		t.Fatalf("the claimed avatar expired: %v", err)
	}

	// A second upload replaces the first pending one; claiming it deletes
	// the previous avatar.
	a, _ := f.e.PutAvatar(ctx, u.ID, "image/png", []byte("a"))
	b, _ := f.e.PutAvatar(ctx, u.ID, "image/png", []byte("b"))
	if _, _, err := f.e.Avatar(ctx, a); !errors.Is(err, ErrAvatarNotFound) {
		t.Fatalf("a replaced pending upload is still stored: %v", err)
	}
	if _, err := f.e.ClaimAvatar(ctx, u.ID, b, "https://x/"+b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.e.Avatar(ctx, id1); !errors.Is(err, ErrAvatarNotFound) {
		t.Fatalf("the replaced avatar is still stored: %v", err)
	}

	// Dropping deletes the uploaded avatar.
	if err := f.e.DropAvatar(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.e.Avatar(ctx, b); !errors.Is(err, ErrAvatarNotFound) {
		t.Fatalf("a dropped avatar is still stored: %v", err)
	}
	if _, err := f.e.PutAvatar(ctx, newID(), "image/png", nil); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("avatar for an unknown user: %v", err)
	}
	if _, err := f.e.ClaimAvatar(ctx, u.ID, "../x", "https://x"); !errors.Is(err, ErrAvatarNotFound) {
		t.Fatalf("a malformed avatar ID: %v", err)
	}
}
