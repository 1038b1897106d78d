package scanlogin

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

// TestCluster runs the engine on a (one-node) Redis Cluster: every script's
// keys must hash to one slot, or Redis answers CROSSSLOT.
func TestCluster(t *testing.T) {
	srv := scanlogintest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := t.Context()
	plain := srv.Client(t)
	if err := plain.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatalf("assign slots: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		info, _ := plain.ClusterInfo(ctx).Result()
		if strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster never became ok: %s", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { _ = rdb.Close() })
	e, err := New(rdb, Config{SessionKeySecret: testSecret, Users: testUsers(t), ScansPerMinute: 10, PollsPerMinute: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	waitSubscribed(t, e)

	u, _, err := e.LoginUser(ctx, LoginInfo{OpenID: "oid-c", SessionKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Allow(ctx, "create", "192.0.2.1", 10); err != nil {
		t.Fatalf("rate limit on cluster: %v", err)
	}
	s, tok, err := e.CreateScene(ctx, NewScene{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.PutSceneImage(ctx, s.ID, "image/png", []byte("x")); err != nil {
		t.Fatalf("image: %v", err)
	}
	ch := goWait(ctx, e, s.ID, tok, 1, 5*time.Second)
	waitForWaiters(t, e, 1)
	if _, err := e.Scan(ctx, s.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r.err != nil || r.s.State != StateScanned || r.elapsed > 2*time.Second {
		t.Fatalf("wait on cluster: %+v", r)
	}
	if _, err := e.Confirm(ctx, s.ID, u.ID, ""); err != nil {
		t.Fatal(err)
	}
	if r, err := e.RedeemScene(ctx, s.ID, tok, "ip", "ua"); err != nil || r.Session == nil {
		t.Fatalf("redeem on cluster: %+v %v", r, err)
	}
	sess, rt, err := e.CreateSession(ctx, u.ID, "ip", "ua")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.RefreshSession(ctx, rt); err != nil {
		t.Fatalf("refresh on cluster: %v", err)
	}
	if _, err := e.UserSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.RevokeSession(ctx, sess.ID); err != nil {
		t.Fatalf("revoke on cluster: %v", err)
	}
	nick := "n"
	if _, err := e.UpdateUser(ctx, u.ID, ProfileUpdate{Nickname: &nick}); err != nil {
		t.Fatal(err)
	}
	// The scan with a mini-program token: the token, the scan limit and
	// the user cache in one script.
	mpt, _, err := e.IssueMPToken(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	s2, _, err := e.CreateScene(ctx, NewScene{})
	if err != nil {
		t.Fatal(err)
	}
	if sc, uid, err := e.ScanWithToken(ctx, s2.ID, mpt); err != nil || uid != u.ID || sc.Scanner == nil || sc.Scanner.Nickname != nick {
		t.Fatalf("scan with a token on cluster: %+v %q %v", sc, uid, err)
	}
	if err := e.RevokeMPToken(ctx, mpt); err != nil {
		t.Fatal(err)
	}
}
