package server_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// scanAudits are the audit lines of scans of scene id.
func scanAudits(logs *servertest.LogBuffer, id string) []map[string]any {
	var out []map[string]any
	for _, l := range logs.JSONLines() {
		if l["msg"] == "audit" && l["action"] == "scan" && l["scene"] == id {
			out = append(out, l)
		}
	}
	return out
}

// TestMPTokenForms: the mini-program token names its user
// ("<user id>.<secret>"); a token of the form issued before (the secret
// alone, kept under sl:mpt:{sha256}) still reads /me, scans, confirms and
// signs the browser in. The scan's audit line names the user either way; a
// refused token is 401 and writes none.
func TestMPTokenForms(t *testing.T) {
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	c := newClient(t, inst)
	ctx := t.Context()

	tok, userID := c.login(inst, "Olive")
	if !strings.HasPrefix(tok, userID+".") || len(tok) != 32+1+43 {
		t.Fatalf("mp token %q for user %s: want <user id>.<secret>", tok, userID)
	}

	// The old form, written as the server before this one wrote it.
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	old := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(old))
	exp := time.Now().Add(time.Hour).UnixMilli()
	if err := inst.Client.Set(ctx, "sl:mpt:{"+hex.EncodeToString(sum[:])+"}", userID+" "+strconv.FormatInt(exp, 10), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	for name, tok := range map[string]string{"current": tok, "old": old} {
		if me := c.req("GET", "/api/v1/mp/me", tok, nil).must(t, 200); me.str("id") != userID {
			t.Fatalf("%s form: /me %s", name, me.Body)
		}
		sc := c.create()
		scan := c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
		if scan.str("state") != "scanned" {
			t.Fatalf("%s form: scan %s", name, scan.Body)
		}
		if a := scanAudits(logs, sc.ID); len(a) != 1 || a[0]["user_id"] != userID || a[0]["outcome"] != "ok" {
			t.Fatalf("%s form: scan audit lines %v", name, a)
		}
		st := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
		if by, _ := st.JSON["scanned_by"].(map[string]any); by["nickname"] != "Olive" {
			t.Fatalf("%s form: poll %s", name, st.Body)
		}
		c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
		red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
		if u, _ := red.JSON["user"].(map[string]any); u["id"] != userID {
			t.Fatalf("%s form: redeem %s", name, red.Body)
		}

		// A rescan by another user's token: refused by the scene, audited.
		other, _ := c.login(inst, "")
		if r := c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", other, nil); r.Status != 409 {
			t.Fatalf("%s form: scan of a redeemed scene %d %s", name, r.Status, r.Body)
		}
		if a := scanAudits(logs, sc.ID); len(a) != 2 || a[1]["user_id"] == userID || a[1]["user_id"] == "" {
			t.Fatalf("%s form: refused scan audit lines %v", name, a)
		}

		// Refused tokens: 401, no audit line, the scene untouched.
		sc = c.create()
		for _, bad := range []string{tok + "x", userID + "." + strings.Repeat("A", 43), "x.y", strings.Repeat("A", 43)} {
			if r := c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", bad, nil); r.Status != 401 || r.errCode() != "invalid_token" {
				t.Fatalf("%s form: scan with %q: %d %s", name, bad, r.Status, r.Body)
			}
		}
		if a := scanAudits(logs, sc.ID); len(a) != 0 {
			t.Fatalf("%s form: refused tokens were audited: %v", name, a)
		}
		if r := c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, map[string]any{"scancode_time": -1}); r.Status != 400 {
			t.Fatalf("%s form: a negative scancode_time: %d %s", name, r.Status, r.Body)
		}
		if st := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200); st.str("state") != "pending" {
			t.Fatalf("%s form: refused scans changed the scene: %s", name, st.Body)
		}
	}
}

// TestMPTokenRedactedInLogs: the current form of the mini-program token
// ("<user id>.<secret>") is one of the opaque secrets the log redaction
// hides, whatever attribute carries it.
func TestMPTokenRedactedInLogs(t *testing.T) {
	logs := &servertest.LogBuffer{}
	log := slog.New(server.NewRedactHandler(slog.NewJSONHandler(logs, nil)))
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, userID := c.login(inst, "")
	log.Info("mp token", "value", tok, "note", "Bearer "+tok, "url", "/x?token="+tok)
	out := logs.String()
	_, secret, _ := strings.Cut(tok, ".")
	if strings.Contains(out, secret) || !strings.Contains(out, "[REDACTED]") {
		t.Fatalf("the mp token is in a log line: %s", out)
	}
	log.Info("user", "user_id", userID)
	if !strings.Contains(logs.String(), userID) {
		t.Fatalf("a user ID alone was redacted: %s", logs.String())
	}
}
