package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// TestConcurrentRedeems: many browsers' worth of redeems at once yield
// exactly one session; two phones scanning at once, exactly one scanner.
func TestConcurrentRedeems(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	sc, _ := c.confirmed(inst)
	const n = 20
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).Status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[200] != 1 || count[409] != n-1 {
		t.Fatalf("redeem statuses %v, want one 200 and %d 409", count, n-1)
	}

	sc2 := c.create()
	a, _ := c.login(inst, "")
	b, _ := c.login(inst, "")
	res := make(chan int, 2)
	for _, tok := range []string{a, b} {
		go func() { res <- c.req("POST", "/api/v1/qr/"+sc2.ID+"/scan", tok, nil).Status }()
	}
	got := map[int]int{<-res: 1}
	got[<-res]++
	if got[200] != 1 || got[409] != 1 {
		t.Fatalf("two scanners: %v", got)
	}
}

// TestPollTiming: an unchanged scene answers after wait seconds; a waiting
// poll sees "expired" at the deadline, not at the end of its wait.
func TestPollTiming(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{SceneTTL: 2 * time.Second})
	c := newClient(t, inst)
	sc := c.create()
	start := time.Now()
	r := c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=1", sc.PollToken, nil).must(t, 200)
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second || r.str("state") != "pending" {
		t.Fatalf("wait=1 answered %s after %s", r.Body, d)
	}
	r = c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=20", sc.PollToken, nil).must(t, 200)
	if d := time.Since(start); d > 5*time.Second || r.str("state") != "expired" || r.num("expires_in") != 0 {
		t.Fatalf("at the deadline: %s after %s", r.Body, d)
	}
}
