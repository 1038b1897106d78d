package server

import (
	"context"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// Limits are the server's rate limits by client IP, as events per minute; 0
// or less disables a limit. The scan and poll limits are not here: the
// engine counts them in the round trip of the scan's and the poll's own
// first read (scanlogin.Config ScansPerMinute, PollsPerMinute).
type Limits struct {
	CreatePerIP int // scenes created per client IP
	LoginPerIP  int // mini-program logins per client IP
}

// Limiter applies the per-IP rate limits of docs/ARCHITECTURE.md#limits
// with the engine's GCRA in Redis (scanlogin.Engine.Allow), shared by every
// instance. Limits fail closed: a Redis that cannot be asked is a 503.
type Limiter struct {
	engine *scanlogin.Engine
	limits Limits
}

// NewLimiter returns a Limiter counting in engine's Redis.
func NewLimiter(engine *scanlogin.Engine, limits Limits) *Limiter {
	return &Limiter{engine: engine, limits: limits}
}

func (l *Limiter) create(ctx context.Context, ip string) error {
	return l.engine.Allow(ctx, "create", ip, l.limits.CreatePerIP)
}

// link: the scene's URL Link has the creation limit, counted apart.
func (l *Limiter) link(ctx context.Context, ip string) error {
	return l.engine.Allow(ctx, "link", ip, l.limits.CreatePerIP)
}

func (l *Limiter) login(ctx context.Context, ip string) error {
	return l.engine.Allow(ctx, "login", ip, l.limits.LoginPerIP)
}
