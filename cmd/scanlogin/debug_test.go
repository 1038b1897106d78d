package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestDebugAddr: SCANLOGIN_DEBUG_ADDR serves profiles on its own loopback
// listener, the public port does not, and a non-loopback address stops
// start-up.
func TestDebugAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	debugAddr := ln.Addr().String()
	ln.Close()
	base, _, _, _ := startRun(t, map[string]string{"SCANLOGIN_ADDR": "127.0.0.1:0", "SCANLOGIN_DATA_DIR": t.TempDir(), "SCANLOGIN_DEBUG_ADDR": debugAddr})
	resp, err := http.Get("http://" + debugAddr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("debug listener: %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/debug/pprof/heap")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("the public port serves profiles: %d", resp.StatusCode)
	}

	for _, bad := range []string{"0.0.0.0:6060", ":6060", "10.0.0.1:6060", "6060"} {
		if err := checkDebugAddr(bad); err == nil || !strings.Contains(err.Error(), "SCANLOGIN_DEBUG_ADDR") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, good := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060"} {
		if err := checkDebugAddr(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}
