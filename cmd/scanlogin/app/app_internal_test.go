package app

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/server"
)

func TestOpenRedisURLs(t *testing.T) {
	for _, tt := range []struct {
		url  string
		kind string
	}{
		{"redis://127.0.0.1:6390/0", "*redis.Client"},
		{"rediss://user:pw@redis.example:6380/1", "*redis.Client"},
		{"unix:///tmp/redis.sock?db=2", "*redis.Client"},
		{"redis+sentinel://s1:26379,s2:26379/0?master_name=mymaster", "*redis.Client"},
		{"redis://s1:26379/0?master_name=mymaster", "*redis.Client"},
		{"redis+cluster://n1:7000?addr=n2:7000&addr=n3:7000", "*redis.ClusterClient"},
		{"rediss+cluster://n1:7000", "*redis.ClusterClient"},
	} {
		c, err := OpenRedis(tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if got := fmt.Sprintf("%T", c); got != tt.kind {
			t.Errorf("%s: %s, want %s", tt.url, got, tt.kind)
		}
		_ = c.Close()
	}
	for _, bad := range []string{"", "localhost:6379", "http://x", "redis+sentinel://s1:26379", "redis+nope://x"} {
		if c, err := OpenRedis(bad); err == nil {
			_ = c.Close()
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestOpenRedisHidesPassword: a URL that does not parse is not quoted in
// the error (start-up prints it), whichever part is wrong.
func TestOpenRedisHidesPassword(t *testing.T) {
	for _, bad := range []string{
		"redis://:s3cretpw@redis:abc/0",                          // a bad port
		"redis://:s3cr#etpw@redis:6379/0",                        // an unescaped # moves the split
		"redis+sentinel://:s3cr%zzetpw@s1:26379/0?master_name=m", // a bad escape
		"redis+cluster://:s3cr%zz@n1:7000",
		"redis://default:2024/s3cret@redis:6379/0",                      // "/" in it: a path
		"redis+sentinel://default:2024/s3cret@s1:26379/0?master_name=m", // the same, for Sentinel
		"redis://:2024?s3cret@redis:6379/0",                             // "?" in it: an option
		"redis://default:2024?dial_timeout=s3cret@redis:6379/0",         // an option's value
		"redis+cluster://default:2024?dial_timeout=s3cret@n1:7000",
	} {
		c, err := OpenRedis(bad)
		if err == nil {
			_ = c.Close()
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cr") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestConfigValidateNamesVariables(t *testing.T) {
	k, _ := server.GenerateSigningKey()
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Addr: "nope"}, "SCANLOGIN_ADDR"},
		{Config{PublicURL: "ftp://x"}, "SCANLOGIN_PUBLIC_URL"},
		{Config{PublicURL: "https://x/path"}, "SCANLOGIN_PUBLIC_URL"},
		{Config{WeChatAppID: "wx1"}, "SCANLOGIN_WECHAT_APPID"},
		{Config{WeChatAppID: "wx1", WeChatSecret: "s"}, "SCANLOGIN_REDIS_URL"},
		{Config{WeChatAppID: "wx1", WeChatSecret: "s", RedisURL: "redis://x"}, "SCANLOGIN_SIGNING_KEY_FILE"},
		{Config{WeChatAppID: "wx1", WeChatSecret: "s", RedisURL: "redis://x", SigningKeys: []server.SigningKey{k}}, "SCANLOGIN_SESSION_KEY_SECRET"},
		// Production without SCANLOGIN_PUBLIC_URL (the default is http://localhost:8080), or with plain HTTP.
		{Config{WeChatAppID: "wx1", WeChatSecret: "s", RedisURL: "redis://x", SigningKeys: []server.SigningKey{k}, SessionKeySecret: make([]byte, 32)}, "SCANLOGIN_PUBLIC_URL"},
		{Config{WeChatAppID: "wx1", WeChatSecret: "s", RedisURL: "redis://x", SigningKeys: []server.SigningKey{k}, SessionKeySecret: make([]byte, 32), PublicURL: "http://login.example.com"}, "SCANLOGIN_PUBLIC_URL"},
		{Config{SessionKeySecret: []byte("short")}, "SCANLOGIN_SESSION_KEY_SECRET"},
		{Config{WeChatAppID: "wx1", WeChatSecret: "s", RedisURL: "redis://x", SigningKeys: []server.SigningKey{k}, SessionKeySecret: make([]byte, 32), PublicURL: "https://login.example.com"}, "SCANLOGIN_DATABASE_URL"},
		{Config{DatabaseURL: "mysql://x/y"}, "SCANLOGIN_DATABASE_URL"},
		{Config{MPEnvVersion: "beta"}, "SCANLOGIN_MP_ENV_VERSION"},
		{Config{MPPage: "/pages/scan/scan"}, "SCANLOGIN_MP_PAGE"},
		{Config{SceneTTL: time.Millisecond}, "SCANLOGIN_SCENE_TTL"},
		{Config{SceneTTL: 10 * time.Minute}, "SCANLOGIN_HARD_CAP"}, // past the default hard cap, 5m
		{Config{SceneTTL: 10 * time.Minute, HardCap: 8 * time.Minute}, "SCANLOGIN_SCENE_TTL"},
		{Config{Addr: ":99999"}, "SCANLOGIN_ADDR"},
		{Config{Addr: "127.0.0.1:http2x"}, "SCANLOGIN_ADDR"},
		{Config{AllowedOrigins: []string{"example.com"}}, "SCANLOGIN_ALLOWED_ORIGINS"},
		{Config{WeChatBaseURL: "api.weixin.qq.com"}, "SCANLOGIN_WECHAT_BASE_URL"},
	} {
		cfg := tt.cfg.WithDefaults()
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want a message naming %s", tt.cfg, err, tt.want)
		}
	}
	ok := Config{}.WithDefaults()
	if err := ok.Validate(); err != nil {
		t.Errorf("the dev defaults do not validate: %v", err)
	}
	long := Config{SceneTTL: 10 * time.Minute, HardCap: 10 * time.Minute, Addr: "127.0.0.1:0"}.WithDefaults()
	if named := (Config{Addr: ":http", PublicURL: "http://localhost"}).WithDefaults(); named.Validate() != nil {
		t.Errorf("a service name as the port does not validate: %v", named.Validate())
	}
	if err := long.Validate(); err != nil {
		t.Errorf("a scene life within the hard cap, on any port, does not validate: %v", err)
	}
	prod := Config{WeChatAppID: "wx1", WeChatSecret: "s", RedisURL: "redis://x", DatabaseURL: "postgres://db/scanlogin", SigningKeys: []server.SigningKey{k}, SessionKeySecret: make([]byte, 32), PublicURL: "https://login.example.com"}.WithDefaults()
	if err := prod.Validate(); err != nil {
		t.Errorf("a complete production config does not validate: %v", err)
	}
}

// TestRedisCallsBounded: against a server that accepts connections and
// answers nothing, every call of the client fails within redisCallTimeout,
// the calls that first wait for a pooled connection (more at once than the
// pool holds) and pipelines alike; go-redis's own timeouts let those take
// two connection waits or two attempts.
func TestRedisCallsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	rdb, err := OpenRedis("redis://" + ln.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	calls := rdb.(*redis.Client).Options().PoolSize * 2
	took := make([]time.Duration, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			start := time.Now()
			if i%2 == 0 {
				errs[i] = rdb.Get(context.Background(), "k").Err()
			} else {
				_, errs[i] = rdb.Pipelined(context.Background(), func(p redis.Pipeliner) error {
					p.Get(context.Background(), "k")
					p.Set(context.Background(), "k", "v", time.Minute)
					return nil
				})
			}
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	slowest := slices.Max(took)
	t.Logf("%d calls at once, slowest %s", calls, slowest)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d succeeded against a server that answers nothing", i)
		}
	}
	// The slack is the scheduler's, under -race on a loaded machine.
	if slowest > redisCallTimeout+300*time.Millisecond {
		t.Errorf("a call took %s, bound %s", slowest, redisCallTimeout)
	}
}
