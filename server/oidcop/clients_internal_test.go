package oidcop

import "testing"

// TestSetClientsComplete: a reload (SIGHUP) publishes only whole clients;
// a request meanwhile never gets one without its login URL, which the
// library calls.
func TestSetClientsComplete(t *testing.T) {
	p := &Provider{}
	cs := []ClientConfig{{ID: "a"}}
	p.SetClients(cs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			p.SetClients(cs)
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		if c, ok := p.clients.get("a"); !ok || c.loginURL == nil {
			t.Fatal("a client without its login URL during a reload")
		}
	}
}
