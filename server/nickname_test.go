package server_test

import (
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestNicknameSave: a nickname the user saves is normalised (NFC, trimmed)
// and refused when it carries control or format characters (a right-to-left
// override makes "abc\u202egnp.exe" read "abcexe.png"), line separators,
// more than 64 characters, or invalid UTF-8 (README.md#http-api-v1).
func TestNicknameSave(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "")
	patch := func(body string) *response {
		return c.req("PATCH", "/api/v1/mp/me", tok, body)
	}
	for _, bad := range []string{
		`"abc\u202egnp.exe"`, // RLO
		`"a\u200db"`,         // zero-width joiner
		`"a\u200bb"`,         // zero-width space
		`"a\u2066b"`,         // left-to-right isolate
		`"\ufeffAlice"`,      // byte order mark
		`"a\u2028b"`,         // line separator
		`"a\u2029b"`,         // paragraph separator
		`"a\u0007b"`,         // bell
		`"a\nb"`,
		`"a\u0085b"`, // next line (C1)
		`"` + strings.Repeat("名", 65) + `"`,
	} {
		if r := patch(`{"nickname":` + bad + `}`); r.Status != 400 || r.errCode() != "invalid_request" {
			t.Errorf("nickname %s: %d %s", bad, r.Status, r.Body)
		}
	}
	// Invalid UTF-8 anywhere in a JSON body, raw or as a lone surrogate
	// escape, is refused rather than silently replaced.
	for _, body := range []string{"{\"nickname\":\"a\xffb\"}", `{"nickname":"a\ud800b"}`, "{\"x\":\"\xc3\"}"} {
		if r := patch(body); r.Status != 400 || r.errCode() != "invalid_request" {
			t.Errorf("body %q: %d %s", body, r.Status, r.Body)
		}
	}
	// null is refused for a member the route reads, in any case
	// (encoding/json matches names so), and ignored with the rest of an
	// unknown member.
	for _, body := range []string{`{"nickname":null}`, `{"NickName":null}`} {
		if r := patch(body); r.Status != 400 || r.errCode() != "invalid_request" {
			t.Errorf("body %s: %d %s", body, r.Status, r.Body)
		}
	}
	for _, body := range []string{`{"nickname":"Bob","extra":null}`, `{"extra":{"deep":[null]},"nickname":"Bob","more":null}`} {
		if r := patch(body); r.Status != 200 || r.str("nickname") != "Bob" {
			t.Errorf("body %s: %d %s", body, r.Status, r.Body)
		}
	}
	if r := c.req("POST", "/api/v1/qr", "", `{"foo":null}`); r.Status != 201 {
		t.Errorf("create with an unknown null member: %d %s", r.Status, r.Body)
	}
	if r := c.req("POST", "/api/v1/qr", "", "{\"x\":\"\xff\"}"); r.Status != 400 || r.errCode() != "invalid_request" {
		t.Errorf("create with invalid UTF-8: %d %s", r.Status, r.Body)
	}
	// The dev login hook (the demo's wx.login) too.
	for _, body := range []string{"{\"openid\":\"oDev1234567890123456789012345\",\"nickname\":\"a\xffb\"}", `{"openid":"oDev1234567890123456789012345","nickname":"a\udc00"}`} {
		if r := c.req("POST", "/dev/wechat/login", "", body); r.Status != 400 || r.errCode() != "invalid_request" {
			t.Errorf("dev login %q: %d %s", body, r.Status, r.Body)
		}
	}
	for in, want := range map[string]string{
		`"  Alice  "`:                       "Alice",
		`"e\u0301"`:                         "\u00e9", // NFC
		`"` + strings.Repeat("名", 64) + `"`: strings.Repeat("名", 64),
		`"小明 🙂"`:                            "小明 🙂",
		`""`:                                "",
		`"   "`:                             "",
	} {
		r := patch(`{"nickname":`+in+`}`).must(t, 200)
		if got := r.str("nickname"); got != want {
			t.Errorf("nickname %s stored as %q, want %q", in, got, want)
		}
	}
}

// TestNicknameShownClean: a nickname that reached the store some other way
// (stored before this rule, or by another writer) is shown without its
// control and format characters: in the browser's poll (scanned_by), the
// redeem answer, /api/v1/me and /api/v1/mp/me.
func TestNicknameShownClean(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, uid := c.login(inst, "")
	bad := "  abc\u202egnp.exe\u200d\u2028\x07  "
	if _, err := inst.Engine.UpdateUser(t.Context(), uid, scanlogin.ProfileUpdate{Nickname: &bad}); err != nil {
		t.Fatal(err)
	}
	const want = "abcgnp.exe"
	if got := c.req("GET", "/api/v1/mp/me", tok, nil).must(t, 200).str("nickname"); got != want {
		t.Errorf("mp/me nickname %q", got)
	}
	sc := c.create()
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
	st := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
	by, _ := st.JSON["scanned_by"].(map[string]any)
	if by["nickname"] != want {
		t.Errorf("scanned_by %v", st.JSON["scanned_by"])
	}
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
	red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
	user, _ := red.JSON["user"].(map[string]any)
	if user["nickname"] != want {
		t.Errorf("redeem user %v", user)
	}
	if got := c.req("GET", "/api/v1/me", red.str("access_token"), nil).must(t, 200).str("nickname"); got != want {
		t.Errorf("me nickname %q", got)
	}
}
