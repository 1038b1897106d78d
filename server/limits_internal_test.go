package server

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
)

// TestLimiterClientGone: a client that hangs up during the limiter call is
// a 499, not a Redis outage (503, logged as an error).
func TestLimiterClientGone(t *testing.T) {
	rdb := scanlogintest.Start(t).Client(t)
	users, err := sqlstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "users.db"), sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	engine, err := scanlogin.New(rdb, scanlogin.Config{SessionKeySecret: make([]byte, 32), Users: users})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	l := NewLimiter(engine, Limits{CreatePerIP: 30})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = l.create(ctx, "192.0.2.1")
	if errors.Is(err, scanlogin.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if got := errorFor(err).Status; got != statusClientClosed {
		t.Fatalf("status %d, want %d", got, statusClientClosed)
	}
}
