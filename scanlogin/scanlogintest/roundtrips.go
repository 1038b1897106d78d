package scanlogintest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// RoundTrips is a go-redis hook that counts the round trips a client makes:
// a command, a script or a pipeline is one. A connection's set-up (HELLO,
// CLIENT, AUTH, SELECT) and the health checks' PING are not counted: they
// are not the work being measured.
type RoundTrips struct{ n atomic.Int64 }

// Count is the number of round trips so far.
func (c *RoundTrips) Count() int64 { return c.n.Load() }

func setUp(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select", "ping":
		return true
	}
	return false
}

// DialHook implements redis.Hook.
func (c *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (c *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !setUp(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (c *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if !setUp(cmd) {
				c.n.Add(1)
				break
			}
		}
		return next(ctx, cmds)
	}
}
