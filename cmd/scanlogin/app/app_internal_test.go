package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

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
	prod := Config{WeChatAppID: "wx1", WeChatSecret: "s", RedisURL: "redis://x", DatabaseURL: "postgres://db/scanlogin", SigningKeys: []server.SigningKey{k}, SessionKeySecret: make([]byte, 32), PublicURL: "https://login.example.com"}.WithDefaults()
	if err := prod.Validate(); err != nil {
		t.Errorf("a complete production config does not validate: %v", err)
	}
}
