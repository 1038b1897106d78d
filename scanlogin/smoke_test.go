package scanlogin

import (
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
)

func TestLoginFlow(t *testing.T) {
	srv := scanlogintest.Start(t)
	e, _ := newTestEngine(t, srv, Config{}, nil)
	ctx := t.Context()
	u, created, err := e.LoginUser(ctx, LoginInfo{OpenID: "o1", UnionID: "u1", SessionKey: "sk"})
	if err != nil || !created {
		t.Fatalf("login: %v %v", created, err)
	}
	sc, tok, err := e.CreateScene(ctx, NewScene{BrowserIP: "1.2.3.4", BrowserUserAgent: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *Scene)
	go func() {
		s, err := e.Wait(ctx, sc.ID, tok, 1, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	waitForWaiters(t, e, 1) // the scan wakes a sleeping wait, not one arriving after it
	scanned := time.Now()
	if _, err := e.Scan(ctx, sc.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if s := <-done; s == nil || s.State != StateScanned || s.Version != 2 {
		t.Fatalf("wait got %+v", s)
	}
	if took := time.Since(scanned); took > 2*time.Second { // its 5s end would find the news too
		t.Errorf("the wait was woken %s after the scan", took)
	}
	if _, err := e.Confirm(ctx, sc.ID, u.ID, ""); err != nil {
		t.Fatal(err)
	}
	r, err := e.Redeem(ctx, sc.ID, tok)
	if err != nil || r.ScannedBy != u.ID || r.State != StateRedeemed {
		t.Fatalf("redeem %+v %v", r, err)
	}
}
