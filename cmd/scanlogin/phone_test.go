package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadLinkPrefixStopsStartup: a bad SCANLOGIN_QR_LINK_PREFIX (or mode,
// or verification file) stops start-up with a message naming the variable.
func TestBadLinkPrefixStopsStartup(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"SCANLOGIN_QR_MODE": "link", "SCANLOGIN_QR_LINK_PREFIX": "http://login.example.com/s/"}, "SCANLOGIN_QR_LINK_PREFIX"},
		{map[string]string{"SCANLOGIN_QR_MODE": "link", "SCANLOGIN_QR_LINK_PREFIX": "https://login.example.com/s"}, "SCANLOGIN_QR_LINK_PREFIX"},
		{map[string]string{"SCANLOGIN_QR_MODE": "link", "SCANLOGIN_QR_LINK_PREFIX": "https://login.example.com/api/v1/"}, "SCANLOGIN_QR_LINK_PREFIX"},
		{map[string]string{"SCANLOGIN_QR_MODE": "link"}, "SCANLOGIN_QR_LINK_PREFIX"},
		{map[string]string{"SCANLOGIN_QR_MODE": "plain"}, "SCANLOGIN_QR_MODE"},
		{map[string]string{"SCANLOGIN_WECHAT_VERIFY_FILE": "../x.txt:abc"}, "SCANLOGIN_WECHAT_VERIFY_FILE"},
		{map[string]string{"SCANLOGIN_WECHAT_VERIFY_FILE": "/no/such/dir"}, "SCANLOGIN_WECHAT_VERIFY_FILE"},
	} {
		tc.env["SCANLOGIN_ADDR"] = "127.0.0.1:0"
		err := run(context.Background(), []string{"scanlogin"}, func(k string) string { return tc.env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v: error %v, want one naming %s", tc.env, err, tc.name)
		}
	}
	good := map[string]string{"SCANLOGIN_QR_MODE": "link", "SCANLOGIN_QR_LINK_PREFIX": "https://login.example.com/l?s=", "SCANLOGIN_WECHAT_VERIFY_FILE": "Ab12.txt:deadbeef"}
	cfg, err := loadConfig(func(k string) string { return good[k] })
	if err != nil || cfg.QRMode != "link" || string(cfg.VerifyFiles["Ab12.txt"]) != "deadbeef" {
		t.Fatalf("good link config: %+v, %v", cfg, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Zz9.txt"), []byte("c0ffee"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = loadConfig(func(k string) string {
		return map[string]string{"SCANLOGIN_WECHAT_VERIFY_FILE": dir}[k]
	})
	if err != nil || string(cfg.VerifyFiles["Zz9.txt"]) != "c0ffee" {
		t.Fatalf("verification directory: %+v, %v", cfg.VerifyFiles, err)
	}
}

// TestLoopbackStartupHint: listening on 127.0.0.1 only, the demo does not
// suggest scanning with a phone on the network; it says what to set.
func TestLoopbackStartupHint(t *testing.T) {
	_, stderr, _, _ := startRun(t, map[string]string{"SCANLOGIN_ADDR": "127.0.0.1:0"})
	if strings.Contains(stderr.String(), "scan with a phone on the same network") || !strings.Contains(stderr.String(), "reachable from this computer only") {
		t.Errorf("start-up lines on a loopback listener: %s", stderr.String())
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true, ":8080": false, "0.0.0.0:8080": false, "192.168.1.20:8080": false} {
		if loopbackOnly(addr) != want {
			t.Errorf("loopbackOnly(%q) = %v", addr, !want)
		}
	}
}
