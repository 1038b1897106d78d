package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis timeouts: short, so that a dead or hung Redis turns into a 503
// within 2 s instead of a hanging request (docs/ARCHITECTURE.md#redis). An
// attempt waits at most 800 ms for an answer, and one retry (for a pooled
// connection that died) may follow; redisCallTimeout bounds each call (a
// command or a pipeline) as a whole, its wait for a pooled connection and
// the retry included: without it a call took two attempts, or two waits
// for a connection, when Redis hung (over 3 s under load). 1.2 s leaves the
// rest of the 2 s to the request on a loaded machine, and is still tens of
// times a busy Redis's p99.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = 800 * time.Millisecond
	redisMaxRetries  = 1
	redisCallTimeout = 1200 * time.Millisecond
)

// OpenRedis connects to SCANLOGIN_REDIS_URL. Accepted forms:
//
//	redis://[user:pass@]host:port/db          one server
//	rediss://...                               the same over TLS
//	unix:///path/redis.sock?db=0               a unix socket
//	redis+sentinel://[user:pass@]host:port[,...]?master_name=mymaster&addr=host2:port&password=pass
//	                                           (user:pass@ logs in to the Sentinels; the master's
//	                                           password is password=, see deploy/README.md)
//	redis+cluster://[user:pass@]host:port?addr=host2:port&addr=...
//
// (rediss+sentinel and rediss+cluster use TLS.) Query parameters are
// go-redis's own (dial_timeout, read_timeout, pool_size, ...); timeouts not
// given there default to short values, and every call is bounded as a
// whole (redisCallTimeout).
//
// An error never quotes the URL: it may hold the password.
func OpenRedis(rawURL string) (redis.UniversalClient, error) {
	c, err := openRedis(rawURL)
	if errors.Is(err, errURLParse) {
		return nil, errors.New("not a valid URL (not shown here: it may hold a password; percent-encode special characters in the password)")
	}
	return c, err
}

// errURLParse marks an error of parsing the URL. Those errors quote the URL
// or a part of it, and which part moves with an unescaped "#", "/", "?" or
// ":" in the password: the password's own characters may be the part quoted.
var errURLParse = errors.New("redis URL does not parse")

func parseErr(err error) error {
	if err == nil {
		return nil
	}
	return errURLParse
}

func openRedis(rawURL string) (redis.UniversalClient, error) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("want a redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL")
	}
	base, kind, _ := strings.Cut(scheme, "+")
	plain := base + rawURL[len(scheme):]
	switch kind {
	case "":
		if q := queryOf(rawURL); q.Get("master_name") != "" {
			return openSentinel(plain)
		}
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, parseErr(err)
		}
		setTimeouts(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.ContextTimeoutEnabled)
		return bounded(redis.NewClient(opt)), nil
	case "sentinel":
		return openSentinel(plain)
	case "cluster":
		opt, err := redis.ParseClusterURL(plain)
		if err != nil {
			return nil, parseErr(err)
		}
		setTimeouts(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.ContextTimeoutEnabled)
		return bounded(redis.NewClusterClient(opt)), nil
	default:
		return nil, fmt.Errorf("unknown scheme %q", scheme)
	}
}

func openSentinel(u string) (redis.UniversalClient, error) {
	// Several sentinels may be listed in the host part, comma-separated;
	// go-redis wants the extra ones as addr= parameters.
	pu, err := url.Parse(u)
	if err != nil {
		return nil, parseErr(err)
	}
	if hosts := strings.Split(pu.Host, ","); len(hosts) > 1 {
		pu.Host = hosts[0]
		q := pu.Query()
		for _, h := range hosts[1:] {
			q.Add("addr", h)
		}
		pu.RawQuery = q.Encode()
	}
	opt, err := redis.ParseFailoverURL(pu.String())
	if err != nil {
		return nil, parseErr(err)
	}
	if opt.MasterName == "" {
		return nil, fmt.Errorf("a sentinel URL needs ?master_name=")
	}
	setTimeouts(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.ContextTimeoutEnabled)
	return bounded(redis.NewFailoverClient(opt)), nil
}

func queryOf(raw string) url.Values {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	return u.Query()
}

// setTimeouts fills in the timeouts the URL did not set, and makes the
// client's sockets honour context deadlines, which callBound sets.
func setTimeouts(dial, read, write *time.Duration, retries *int, contextTimeouts *bool) {
	*contextTimeouts = true
	if *retries == 0 {
		*retries = redisMaxRetries
	}
	if *dial == 0 {
		*dial = redisDialTimeout
	}
	if *read == 0 {
		*read = redisIOTimeout
	}
	if *write == 0 {
		*write = redisIOTimeout
	}
}

// bounded installs callBound on c.
func bounded(c redis.UniversalClient) redis.UniversalClient {
	c.AddHook(callBound{redisCallTimeout})
	return c
}

// callBound is a go-redis hook that gives every call a deadline at most d
// away (a sooner one of the caller's stays). With the client's
// ContextTimeoutEnabled the deadline bounds the call as a whole: its wait
// for a pooled connection, each attempt's socket reads and writes, and the
// pause before the retry. Commands that block on purpose keep the timeout
// they are given (scanlogin sends none; tests hold connections with them),
// and publish/subscribe connections do not pass through it: the
// subscriber has its own ping deadlines.
type callBound struct{ d time.Duration }

// blocking tells the commands that wait for as long as they are told.
func blocking(name string) bool {
	switch name {
	case "blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop",
		"xread", "xreadgroup", "wait", "waitaof":
		return true
	}
	return false
}

func (b callBound) DialHook(next redis.DialHook) redis.DialHook { return next }

func (b callBound) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if blocking(cmd.Name()) {
			return next(ctx, cmd)
		}
		ctx, cancel := b.bound(ctx)
		defer cancel()
		return next(ctx, cmd)
	}
}

func (b callBound) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := b.bound(ctx)
		defer cancel()
		return next(ctx, cmds)
	}
}

func (b callBound) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= b.d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.d)
}

var _ redis.Hook = callBound{}
