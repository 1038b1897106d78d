package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/server/servertest"
)

// A proxy speaking HTTP/2 with prior knowledge (h2c) carries many waiting
// polls over one connection, and a transition still wakes each of them.
func TestH2CPollsShareOneConnection(t *testing.T) {
	in := servertest.Start(t, servertest.Options{})
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: protocols}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}

	var conns sync.Map
	// try is one request; the polls' goroutines call it, and only the
	// test's own goroutine may stop the test (do).
	try := func(method, path, bearer, body string, out any) error {
		req, err := http.NewRequest(method, in.URL+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { conns.Store(info.Conn.LocalAddr().String(), true) },
		}))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 {
			return fmt.Errorf("%s %s answered over %s, want HTTP/2", method, path, resp.Proto)
		}
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				return fmt.Errorf("%s %s: %v", method, path, err)
			}
		}
		return nil
	}
	do := func(method, path, bearer, body string, out any) {
		t.Helper()
		if err := try(method, path, bearer, body, out); err != nil {
			t.Fatal(err)
		}
	}

	const n = 20
	type created struct {
		Scene     string `json:"scene"`
		PollToken string `json:"poll_token"`
	}
	scenes := make([]created, n)
	for i := range scenes {
		do("POST", "/api/v1/qr", "", "{}", &scenes[i])
	}
	phone := in.MintCode(t, "o_h2c", "H2")
	var login struct{ Token string }
	do("POST", "/api/v1/mp/login", "", fmt.Sprintf(`{"code":%q}`, phone), &login)

	var wg sync.WaitGroup
	defer wg.Wait() // no poll reports after the test has ended
	states := make([]string, n)
	for i, s := range scenes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st struct{ State string }
			if err := try("GET", "/api/v1/qr/"+s.Scene+"/state?since=1&wait=15", s.PollToken, "", &st); err != nil {
				t.Errorf("poll %d: %v", i, err)
			}
			states[i] = st.State
		}()
	}
	// Every poll is waiting before the first scan, so each is woken by it
	// rather than reading the news on arrival.
	waitGauge(t, in, strconv.Itoa(n))
	start := time.Now()
	for _, s := range scenes {
		do("POST", "/api/v1/qr/"+s.Scene+"/scan", login.Token, "{}", nil)
	}
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("polls answered %v after the scans", d)
	}
	for i, st := range states {
		if st != "scanned" {
			t.Errorf("poll %d: %q, want scanned", i, st)
		}
	}
	count := 0
	conns.Range(func(any, any) bool { count++; return true })
	if count != 1 {
		t.Errorf("%d connections carried %d polls, want 1", count, n)
	}
}
