package server_test

import (
	"testing"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestScanAnswerLabelsTheBrowser: the scan answer and the session list carry
// the browser's raw User-Agent and the label both clients show.
func TestScanAnswerLabelsTheBrowser(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51"
	mpToken, _ := c.login(inst, "Alice")
	created := c.req("POST", "/api/v1/qr", "", nil, "User-Agent", ua).must(t, 201)
	id, poll := created.str("scene"), created.str("poll_token")

	scan := c.req("POST", "/api/v1/qr/"+id+"/scan", mpToken, nil).must(t, 200)
	browser, _ := scan.JSON["browser"].(map[string]any)
	if browser["user_agent"] != ua || browser["label"] != "Edge 124 · Windows 10/11" {
		t.Fatalf("scan answer: %s", scan.Body)
	}

	c.req("POST", "/api/v1/qr/"+id+"/confirm", mpToken, nil).must(t, 200)
	c.req("POST", "/api/v1/qr/"+id+"/redeem", poll, nil, "User-Agent", "curl/8.5.0").must(t, 200)
	list := c.req("GET", "/api/v1/mp/sessions", mpToken, nil).must(t, 200)
	sessions, _ := list.JSON["sessions"].([]any)
	if len(sessions) != 1 {
		t.Fatalf("sessions: %s", list.Body)
	}
	if s0, _ := sessions[0].(map[string]any); s0["user_agent"] != "curl/8.5.0" || s0["label"] != "curl 8" {
		t.Fatalf("session: %v", s0)
	}
}
