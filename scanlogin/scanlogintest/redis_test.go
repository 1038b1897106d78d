package scanlogintest

import (
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	s.Stop()
	if err := c.Ping(t.Context()).Err(); err == nil {
		t.Fatal("ping succeeded on a stopped server")
	}
	s.Restart()
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
	calls := s.CommandCalls(t.Context(), t)
	if calls["ping"] < 1 {
		t.Fatalf("commandstats has no ping after a ping: %v", calls)
	}
}

func TestParseCommandStats(t *testing.T) {
	got := ParseCommandStats("# Commandstats\r\ncmdstat_evalsha:calls=3,usec=10,usec_per_call=3.33,rejected_calls=0,failed_calls=0\r\ncmdstat_get:calls=7,usec=1\r\n")
	if got["evalsha"] != 3 || got["get"] != 7 || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}

// TestStartNotFooledByAnotherServer: a redis-server that cannot bind its
// port (another server took it, as another test package's may between
// freePort and the bind) is not taken for up because the other one answers
// PING; a test would otherwise share that server's data.
func TestStartNotFooledByAnotherServer(t *testing.T) {
	other := Start(t)
	s := &Server{tb: t, dir: t.TempDir(), port: other.Port()}
	if err := s.start(Binary(t)); err == nil {
		s.Stop()
		t.Fatal("start succeeded on a port another redis-server holds")
	}
}
