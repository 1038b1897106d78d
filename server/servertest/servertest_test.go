package servertest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/server/servertest"
)

func TestStartServesDevMode(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	resp, err := http.Post(inst.URL+"/dev/wechat/login", "application/json", strings.NewReader(`{"openid":"oServertest0000000000000001"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Code string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.Code == "" {
		t.Fatalf("POST /dev/wechat/login: %d %v %+v", resp.StatusCode, err, out)
	}
	resp2, err := http.Post(inst.URL+"/api/v1/mp/login", "application/json", strings.NewReader(`{"code":"`+out.Code+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("mp login: %d", resp2.StatusCode)
	}
	if inst.Redis == nil || inst.Fake == nil || inst.Engine == nil {
		t.Fatal("instance fields not set")
	}
}

// TestTwoInstancesShareRedis: instances on one Redis and one database
// are one service.
func TestTwoInstancesShareRedis(t *testing.T) {
	a := servertest.Start(t, servertest.Options{})
	b := servertest.Start(t, servertest.Options{RedisURL: a.Redis.URL(), DatabaseURL: a.DatabaseURL})
	code := a.MintCode(t, "oServertest0000000000000002", "")
	resp, err := http.Post(b.URL+"/api/v1/mp/login", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a code minted on a, used on b: %d", resp.StatusCode)
	}
}
