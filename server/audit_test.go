package server_test

import (
	"log/slog"
	"testing"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestAuditLevels: an audit line is a warning only when the server failed.
// A refusal the client caused (a rescan by another user: 409 already_scanned) is info, as
// is success; a redeem that Redis cannot serve (503) is a warning.
func TestAuditLevels(t *testing.T) {
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	c := newClient(t, inst)
	sc, _ := c.confirmed(inst)
	other, _ := c.login(inst, "")
	if r := c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", other, nil); r.Status != 409 {
		t.Fatalf("rescan by another user: %d %s", r.Status, r.Body)
	}
	inst.Redis.Stop()
	if r := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil); r.Status != 503 {
		t.Fatalf("redeem with Redis stopped: %d %s", r.Status, r.Body)
	}

	want := map[string]string{"scan ok": "INFO", "confirm ok": "INFO", "scan already_scanned": "INFO", "redeem unavailable": "WARN"}
	got := map[string]string{}
	for _, l := range logs.JSONLines() {
		if l["msg"] == "audit" && l["scene"] == sc.ID {
			got[l["action"].(string)+" "+l["outcome"].(string)] = l["level"].(string)
		}
	}
	for k, level := range want {
		if got[k] != level {
			t.Errorf("audit %q at %q, want %q (all: %v)", k, got[k], level, got)
		}
	}
}
