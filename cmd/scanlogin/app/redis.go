package app

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis timeouts: short, so that a dead or hung Redis turns into a 503
// within 2 s instead of a hanging request (docs/ARCHITECTURE.md#waiting): two attempts (one
// retry, for a pooled connection that died) of at most 800 ms each.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisIOTimeout   = 800 * time.Millisecond
	redisMaxRetries  = 1
)

// OpenRedis connects to SCANLOGIN_REDIS_URL. Accepted forms:
//
//	redis://[user:pass@]host:port/db          one server
//	rediss://...                               the same over TLS
//	unix:///path/redis.sock?db=0               a unix socket
//	redis+sentinel://[user:pass@]host:port[,...]?master_name=mymaster&addr=host2:port
//	redis+cluster://[user:pass@]host:port?addr=host2:port&addr=...
//
// (rediss+sentinel and rediss+cluster use TLS.) Query parameters are
// go-redis's own (dial_timeout, read_timeout, pool_size, ...); timeouts not
// given there default to short values.
func OpenRedis(rawURL string) (redis.UniversalClient, error) {
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
			return nil, err
		}
		setTimeouts(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries)
		return redis.NewClient(opt), nil
	case "sentinel":
		return openSentinel(plain)
	case "cluster":
		opt, err := redis.ParseClusterURL(plain)
		if err != nil {
			return nil, err
		}
		setTimeouts(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries)
		return redis.NewClusterClient(opt), nil
	default:
		return nil, fmt.Errorf("unknown scheme %q", scheme)
	}
}

func openSentinel(u string) (redis.UniversalClient, error) {
	// Several sentinels may be listed in the host part, comma-separated;
	// go-redis wants the extra ones as addr= parameters.
	pu, err := url.Parse(u)
	if err != nil {
		return nil, err
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
		return nil, err
	}
	if opt.MasterName == "" {
		return nil, fmt.Errorf("a sentinel URL needs ?master_name=")
	}
	setTimeouts(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries)
	return redis.NewFailoverClient(opt), nil
}

func queryOf(raw string) url.Values {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	return u.Query()
}

func setTimeouts(dial, read, write *time.Duration, retries *int) {
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
