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
	time.Sleep(50 * time.Millisecond)
	if _, err := e.Scan(ctx, sc.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if s := <-done; s == nil || s.State != StateScanned || s.Version != 2 {
		t.Fatalf("wait got %+v", s)
	}
	if _, err := e.Confirm(ctx, sc.ID, u.ID, ""); err != nil {
		t.Fatal(err)
	}
	r, err := e.Redeem(ctx, sc.ID, tok)
	if err != nil || r.ScannedBy != u.ID || r.State != StateRedeemed {
		t.Fatalf("redeem %+v %v", r, err)
	}
}
