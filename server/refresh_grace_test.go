package server_test

import (
	"sync"
	"testing"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// split sends n requests at once, alternating between the clients of two
// instances, and returns the answers in order.
func split(n int, ca, cb *client, send func(*client) *response) []*response {
	answers := make([]*response, n)
	var wg sync.WaitGroup
	for i := range n {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = send(c)
		}()
	}
	wg.Wait()
	return answers
}

// TestRefreshConcurrentTabs: twenty tabs refresh with the same token at
// once, over two instances on one Redis. Every one gets 200 with the same
// refresh token and its own working access token, and the session lives
// (docs/ARCHITECTURE.md#tokens).
func TestRefreshConcurrentTabs(t *testing.T) {
	a := servertest.Start(t, servertest.Options{})
	b := servertest.Start(t, servertest.Options{RedisURL: a.Redis.URL(), DatabaseURL: a.DatabaseURL})
	ca, cb := newClient(t, a), newClient(t, b)
	sc, _ := ca.confirmed(a)
	refresh := ca.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200).str("refresh_token")

	answers := split(20, ca, cb, func(c *client) *response {
		return c.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": refresh})
	})
	for i, r := range answers {
		if r.Status != 200 {
			t.Fatalf("tab %d: %d %s", i, r.Status, r.Body)
		}
		if r.str("refresh_token") != answers[0].str("refresh_token") {
			t.Fatalf("tab %d got another refresh token", i)
		}
		ca.req("GET", "/api/v1/me", r.str("access_token"), nil).must(t, 200)
	}
	// The shared successor rotates on, and the session is alive.
	next := cb.req("POST", "/api/v1/session/refresh", "", map[string]string{"refresh_token": answers[0].str("refresh_token")}).must(t, 200)
	ca.req("GET", "/api/v1/me", next.str("access_token"), nil).must(t, 200)
}
