package server_test

import (
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestProfileSaveClaimsUpload: PUT /api/v1/mp/me (the mini-program's way;
// wx.request has no PATCH) saves nickname and an uploaded avatar together.
// An upload stays unclaimed until a save names it (unclaimed uploads are
// swept: TestSweepAvatars), a save cannot name another user's upload, and
// an avatar URL that is not an upload deletes the user's uploaded one.
func TestProfileSaveClaimsUpload(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "")
	png := encodePNG(t, testImage(8, 8))

	up := upload(t, c, tok, png).must(t, 200).str("avatar_url")
	if me := c.req("GET", "/api/v1/mp/me", tok, nil).must(t, 200); me.str("avatar_url") != "" {
		t.Fatalf("an upload alone changed the profile: %s", me.Body)
	}

	// Another user cannot make it theirs.
	otherTok, _ := c.login(inst, "")
	c.req("PUT", "/api/v1/mp/me", otherTok, map[string]any{"avatar_url": up}).must(t, 400)

	saved := c.req("PUT", "/api/v1/mp/me", tok, map[string]any{"avatar_url": up, "nickname": "小明"}).must(t, 200)
	if saved.str("avatar_url") != up || saved.str("nickname") != "小明" {
		t.Fatalf("PUT: %s", saved.Body)
	}
	c.req("GET", strings.TrimPrefix(up, inst.URL), "", nil).must(t, 200)

	// PATCH stays for other clients.
	if r := c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"nickname": "Ming"}).must(t, 200); r.str("nickname") != "Ming" || r.str("avatar_url") != up {
		t.Fatalf("PATCH: %s", r.Body)
	}
	// An unknown upload of ours is refused in the error shape.
	r := c.req("PUT", "/api/v1/mp/me", tok, map[string]any{"avatar_url": inst.URL + "/api/v1/avatars/0123456789abcdef0123456789abcdef"}).must(t, 400)
	if !strings.Contains(r.text(), `"code":"invalid_request"`) {
		t.Fatalf("unknown upload: %s", r.Body)
	}

	// WeChat's https avatar replaces the upload, which is deleted.
	c.req("PUT", "/api/v1/mp/me", tok, map[string]any{"avatar_url": "https://thirdwx.qlogo.cn/x/132"}).must(t, 200)
	c.req("GET", strings.TrimPrefix(up, inst.URL), "", nil).must(t, 404)
}
