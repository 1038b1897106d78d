package server_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// TestSceneImageOneWeChatCallAcrossInstances: 50 concurrent fetches of a
// new scene's code, split across two instances on one Redis, make exactly
// one getwxacodeunlimit call and all get the same bytes.
func TestSceneImageOneWeChatCallAcrossInstances(t *testing.T) {
	a := servertest.Start(t, servertest.Options{})
	b := servertest.Start(t, servertest.Options{RedisURL: a.Redis.URL(), DatabaseURL: a.DatabaseURL})
	ca, cb := newClient(t, a), newClient(t, b)
	for run := range 3 {
		sc := ca.create()
		before := a.Fake.Calls(wxfake.APIQRCode) + b.Fake.Calls(wxfake.APIQRCode)
		// A slow WeChat: every fetch arrives while the first call is under way.
		slow := wxfake.Fault{Delay: 300 * time.Millisecond, Times: 1}
		a.Fake.Inject(wxfake.APIQRCode, slow)
		b.Fake.Inject(wxfake.APIQRCode, slow)
		answers := split(50, ca, cb, func(c *client) *response {
			return c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil)
		})
		a.Fake.ClearFaults()
		b.Fake.ClearFaults()
		for i, r := range answers {
			if r.Status != 200 {
				t.Fatalf("run %d fetch %d: %d %s", run, i, r.Status, r.Body)
			}
			if !bytes.Equal(r.Body, answers[0].Body) || r.Header.Get("Content-Type") != answers[0].Header.Get("Content-Type") {
				t.Fatalf("run %d fetch %d: another image than fetch 0", run, i)
			}
		}
		if calls := a.Fake.Calls(wxfake.APIQRCode) + b.Fake.Calls(wxfake.APIQRCode) - before; calls != 1 {
			t.Fatalf("run %d: %d getwxacodeunlimit calls for one scene, want 1", run, calls)
		}
	}
}

// TestSceneImageOfFinishedScene: a code already made is not served once its
// scene is cancelled, redeemed or expired; it answers like a code never
// fetched (409 scene_final, 410 scene_expired).
func TestSceneImageOfFinishedScene(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{SceneTTL: time.Second})
	c := newClient(t, inst)

	cancelled := c.create()
	c.req("GET", "/api/v1/qr/"+cancelled.ID+"/image", "", nil).must(t, 200)
	c.req("DELETE", "/api/v1/qr/"+cancelled.ID, cancelled.PollToken, nil).must(t, 200)
	if r := c.req("GET", "/api/v1/qr/"+cancelled.ID+"/image", "", nil); r.Status != 409 || r.errCode() != "scene_final" {
		t.Fatalf("image of a cancelled scene: %d %v", r.Status, r.JSON)
	}

	redeemed, _ := c.confirmed(inst)
	c.req("GET", "/api/v1/qr/"+redeemed.ID+"/image", "", nil).must(t, 200)
	c.req("POST", "/api/v1/qr/"+redeemed.ID+"/redeem", redeemed.PollToken, nil).must(t, 200)
	if r := c.req("GET", "/api/v1/qr/"+redeemed.ID+"/image", "", nil); r.Status != 409 || r.errCode() != "scene_final" {
		t.Fatalf("image of a redeemed scene: %d %v", r.Status, r.JSON)
	}

	expired := c.create()
	c.req("GET", "/api/v1/qr/"+expired.ID+"/image", "", nil).must(t, 200)
	time.Sleep(1100 * time.Millisecond)
	if r := c.req("GET", "/api/v1/qr/"+expired.ID+"/image", "", nil); r.Status != 410 || r.errCode() != "scene_expired" {
		t.Fatalf("image of an expired scene: %d %v", r.Status, r.JSON)
	}
	if r := c.req("GET", "/api/v1/qr/"+"0123456789abcdef0123456789abcdef"+"/image", "", nil); r.Status != 404 || r.errCode() != "scene_not_found" {
		t.Fatalf("image of no scene: %d %s", r.Status, r.Body)
	}
}
