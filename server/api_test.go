package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/scanlogin/scanlogintest"
	"github.com/scanlogin/scanlogin/server"
	"github.com/scanlogin/scanlogin/server/servertest"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// TestOpenAPICoversRoutes fails when a registered route is missing from
// /openapi.json.
func TestOpenAPICoversRoutes(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	doc := c.req("GET", "/openapi.json", "", nil).must(t, 200)
	if doc.str("openapi") == "" {
		t.Fatalf("not OpenAPI: %.200s", doc.Body)
	}
	paths, _ := doc.JSON["paths"].(map[string]any)
	for _, r := range inst.Server.Routes() {
		p := r.Path
		// Echo's :name and * become OpenAPI's {name}.
		parts := strings.Split(p, "/")
		for i, part := range parts {
			if strings.HasPrefix(part, ":") {
				parts[i] = "{" + part[1:] + "}"
			} else if part == "*" {
				parts[i] = "{path}"
			}
		}
		p = strings.Join(parts, "/")
		item, ok := paths[p].(map[string]any)
		if !ok {
			t.Errorf("route %s %s is not in /openapi.json", r.Method, r.Path)
			continue
		}
		if r.Method == "echo_route_any" || r.Method == "RouteNotFound" {
			continue
		}
		if _, ok := item[strings.ToLower(r.Method)]; !ok && !strings.HasPrefix(r.Path, "/dev/wechat/") {
			t.Errorf("route %s %s: method missing in /openapi.json", r.Method, r.Path)
		}
	}
}

// TestImportArrows keeps the dependency arrows of docs/ARCHITECTURE.md
// true. cmd/scanlogin (with cmd/scanlogin/app, the composition root)
// imports everything; server imports scanlogin, wxapi and web but never the
// fake WeChat; scanlogin and wxapi import neither each other nor the server
// nor Echo; web imports nothing of ours; and nothing but cmd/scanlogin and
// test support (servertest) imports the fake, which ships in the binary and
// therefore must not link package testing.
func TestImportArrows(t *testing.T) {
	const mod = "github.com/scanlogin/scanlogin"
	const (
		server    = mod + "/server"
		scanlogin = mod + "/scanlogin"
		wxapi     = mod + "/wxapi"
		fake      = mod + "/wxapi/wxfake"
		web       = mod + "/web"
		cmd       = mod + "/cmd"
		echo      = "github.com/labstack/echo"
	)
	deps := func(pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		return strings.Fields(string(out))
	}
	under := func(dep, pkg string) bool { return dep == pkg || strings.HasPrefix(dep, pkg+"/") }
	for pkg, banned := range map[string][]string{
		scanlogin: {server, echo, wxapi, web, cmd},
		wxapi:     {server, echo, scanlogin, web, cmd},
		fake:      {server, echo, scanlogin, web, cmd, "testing"},
		web:       {server, echo, scanlogin, wxapi, cmd},
		server:    {fake, cmd},
	} {
		for _, dep := range deps(pkg) {
			for _, b := range banned {
				if under(dep, b) && !(b == wxapi && under(pkg, wxapi)) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
	for _, pkg := range []string{mod + "/cmd/scanlogin", mod + "/cmd/scanlogin/app"} {
		all := strings.Join(deps(pkg), " ")
		for _, want := range []string{server, scanlogin, wxapi, fake, web} {
			if !strings.Contains(" "+all+" ", " "+want+" ") {
				t.Errorf("%s does not build on %s", pkg, want)
			}
		}
	}

	// Who imports the fake directly (tests excluded: go list reports
	// Imports of the package itself).
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 || under(f[0], mod+"/cmd/scanlogin") || strings.HasSuffix(f[0], "test") {
			continue
		}
		for _, imp := range f[1:] {
			if imp == fake {
				t.Errorf("%s imports the fake WeChat: only cmd/scanlogin and tests may", f[0])
			}
		}
	}
}

// TestJWKSVerifiesOffline: a backend that knows only /.well-known/jwks.json
// verifies an access token, pinned to EdDSA. The set also holds the RSA
// keys of RS256 ID tokens.
func TestJWKSVerifiesOffline(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	sc, _ := c.confirmed(inst)
	access := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200).str("access_token")

	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg string }
	}
	if err := json.Unmarshal(c.req("GET", "/.well-known/jwks.json", "", nil).must(t, 200).Body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v %+v", err, set)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty == "RSA" && k.Alg == "RS256" && k.Kid != "" {
			continue // the OpenID provider's ID-token keys (docs/OIDC.md#keys)
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Kid == "" {
			t.Fatalf("key %+v", k)
		}
		x, _ := base64.RawURLEncoding.DecodeString(k.X)
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(access, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("scanlogin-web"), jwt.WithIssuer(inst.URL), jwt.WithExpirationRequired())
	if err != nil || !tok.Valid {
		t.Fatalf("offline verification: %v", err)
	}
	for _, k := range []string{"iss", "sub", "aud", "sid", "iat", "exp"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("claim %s missing: %v", k, claims)
		}
	}

	// A 1 MB token never reaches the parser: the header limit refuses it.
	if huge := c.req("GET", "/api/v1/me", access+strings.Repeat("A", 1<<20), nil); huge.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("1 MB token: %d", huge.Status)
	}
	// Just under the header limit it reaches the verifier, which refuses it
	// by its length before parsing.
	if r := c.req("GET", "/api/v1/me", access+strings.Repeat("A", 20<<10), nil); r.Status != 401 {
		t.Fatalf("20 KB token: %d", r.Status)
	}
	// Over the cookie too, with one character of the signature changed.
	// Not its last characters: base64url's unused trailing bits let a
	// changed last character decode to the same signature now and then.
	sig := strings.LastIndexByte(access, '.') + 10
	swap := byte('A')
	if access[sig] == 'A' {
		swap = 'B'
	}
	tampered := access[:sig] + string(swap) + access[sig+1:]
	if r := c.req("GET", "/api/v1/me", "", nil, "Cookie", "scanlogin_session="+tampered); r.Status != 401 {
		t.Fatalf("tampered cookie: %d", r.Status)
	}
}

// TestRemoteRevocation: the phone lists the browser sessions and kills one;
// /api/v1/me refuses it at once.
func TestRemoteRevocation(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	sc, mpTok := c.confirmed(inst)
	access := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil, "User-Agent", "Firefox/140").must(t, 200).str("access_token")
	list := c.req("GET", "/api/v1/mp/sessions", mpTok, nil).must(t, 200)
	sessions, _ := list.JSON["sessions"].([]any)
	if len(sessions) != 1 {
		t.Fatalf("sessions: %s", list.Body)
	}
	s0, _ := sessions[0].(map[string]any)
	if s0["user_agent"] != "Firefox/140" || s0["ip"] != "127.0.0.1" || s0["created_at"] == nil || s0["last_seen_at"] == nil {
		t.Fatalf("session: %v", s0)
	}
	c.req("GET", "/api/v1/me", access, nil).must(t, 200)
	c.req("DELETE", "/api/v1/mp/sessions/"+s0["id"].(string), mpTok, nil).must(t, 204)
	c.req("GET", "/api/v1/me", access, nil).must(t, 401)
	list = c.req("GET", "/api/v1/mp/sessions", mpTok, nil).must(t, 200)
	if sessions, _ := list.JSON["sessions"].([]any); len(sessions) != 0 {
		t.Fatalf("after revocation: %s", list.Body)
	}
}

// TestScanByCode: scan, confirm and cancel accept a fresh wx.login code in
// the body instead of the mp token.
func TestScanByCode(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	openID := newOpenID()
	sc := c.create()
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", "", map[string]string{"code": inst.MintCode(t, openID, "")}).must(t, 200)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", "", map[string]string{"code": inst.MintCode(t, openID, "")}).must(t, 200)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)

	sc = c.create()
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", "", map[string]string{"code": inst.MintCode(t, openID, "")}).must(t, 200)
	r := c.req("POST", "/api/v1/qr/"+sc.ID+"/cancel", "", map[string]string{"code": inst.MintCode(t, openID, "")}).must(t, 200)
	if r.str("state") != "cancelled" {
		t.Fatalf("cancel: %s", r.Body)
	}
	st := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
	if st.str("state") != "cancelled" {
		t.Fatalf("state: %s", st.Body)
	}
	// The browser can abandon its own scene too.
	sc = c.create()
	if r := c.req("DELETE", "/api/v1/qr/"+sc.ID, sc.PollToken, nil).must(t, 200); r.str("state") != "cancelled" {
		t.Fatalf("delete: %s", r.Body)
	}
}

// TestLegacyLogin: encrypted_data/iv and raw_data/signature are checked with
// the session key; the profile they carry fills the user's.
func TestLegacyLogin(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	ctx := context.Background()
	openID := newOpenID()
	code := inst.MintCode(t, openID, "")
	sk, err := inst.Fake.SessionKey(ctx, openID)
	if err != nil {
		t.Fatal(err)
	}
	raw := `{"nickName":"Legacy Lee","avatarUrl":"https://thirdwx.qlogo.cn/x/132","gender":0}`
	sum := sha1.Sum([]byte(raw + sk))
	sig := hex.EncodeToString(sum[:])
	plain := fmt.Sprintf(`{"nickName":"Legacy Lee","avatarUrl":"https://thirdwx.qlogo.cn/x/132","openId":%q,"watermark":{"appid":%q,"timestamp":%d}}`, openID, inst.Fake.AppID(), time.Now().Unix())
	enc, iv, err := inst.Fake.EncryptUserData(ctx, openID, []byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	r := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code, "raw_data": raw, "signature": sig, "encrypted_data": enc, "iv": iv}).must(t, 200)
	user, _ := r.JSON["user"].(map[string]any)
	if user["nickname"] != "Legacy Lee" || user["avatar_url"] != "https://thirdwx.qlogo.cn/x/132" || r.JSON["is_new_user"] != true {
		t.Fatalf("legacy login: %s", r.Body)
	}

	bad := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": inst.MintCode(t, openID, ""), "raw_data": raw, "signature": strings.Repeat("0", 40)})
	if bad.Status != 400 || !strings.Contains(string(bad.Body), "signature") {
		t.Fatalf("bad signature: %d %s", bad.Status, bad.Body)
	}
	enc2, iv2, _ := wxfake.EncryptCBC(base64.StdEncoding.EncodeToString(make([]byte, 16)), []byte(plain), nil)
	bad = c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": inst.MintCode(t, openID, ""), "encrypted_data": enc2, "iv": iv2})
	if bad.Status != 400 || !strings.Contains(string(bad.Body), "encrypted_data") {
		t.Fatalf("data under another key: %d %s", bad.Status, bad.Body)
	}
	c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": "x", "iv": iv}).must(t, 400)
	second := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": inst.MintCode(t, openID, "")}).must(t, 200)
	if second.JSON["is_new_user"] != false {
		t.Fatalf("second login: %s", second.Body)
	}
}

// TestAvatar: upload by content type sniffing, served back from our URL
// (re-encoded: TestAvatarReencoded)
// out of the database with a strong ETag, cached for good, 304 on a match;
// an upload is the user's avatar once a profile save claims it, and only
// the uploader can claim it.
func TestAvatar(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "")
	webp, err := os.ReadFile("testdata/avatar.webp")
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []struct {
		ctype string // as stored
		data  []byte
	}{
		{"image/png", encodePNG(t, testImage(8, 8))},
		{"image/jpeg", jpegWithGPS(t)},
		{"image/png", webp},
	} {
		r := upload(t, c, tok, img.data).must(t, 200)
		u := r.str("avatar_url")
		if !strings.HasPrefix(u, inst.URL+"/api/v1/avatars/") {
			t.Fatalf("avatar_url %q", u)
		}
		path := strings.TrimPrefix(u, inst.URL)
		got := c.req("GET", path, "", nil).must(t, 200)
		if _, _, err := image.Decode(bytes.NewReader(got.Body)); err != nil || got.Header.Get("Content-Type") != img.ctype || got.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("served %s %d bytes", got.Header.Get("Content-Type"), len(got.Body))
		}
		sum := sha256.Sum256(got.Body) // the stored, re-encoded image
		etag := `"` + hex.EncodeToString(sum[:]) + `"`
		if got.Header.Get("ETag") != etag || got.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Fatalf("cache headers: ETag %q, Cache-Control %q", got.Header.Get("ETag"), got.Header.Get("Cache-Control"))
		}
		for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
			if nm := c.req("GET", path, "", nil, "If-None-Match", inm); nm.Status != 304 || len(nm.Body) != 0 || nm.Header.Get("ETag") != etag {
				t.Fatalf("If-None-Match %s: %d %q", inm, nm.Status, nm.Body)
			}
		}
		c.req("GET", path, "", nil, "If-None-Match", `"other"`).must(t, 200)
		// Not the avatar until the profile is saved with it.
		if me := c.req("GET", "/api/v1/mp/me", tok, nil).must(t, 200); me.str("avatar_url") == u {
			t.Fatal("an unsaved upload became the avatar")
		}
		c.req("PUT", "/api/v1/mp/me", tok, map[string]any{"avatar_url": u}).must(t, 200)
		if me := c.req("GET", "/api/v1/mp/me", tok, nil).must(t, 200); me.str("avatar_url") != u {
			t.Fatalf("the user's avatar_url is %q", me.str("avatar_url"))
		}
	}
	// Someone else's upload, or one that does not exist, cannot be claimed.
	other, _ := c.login(inst, "")
	theirs := upload(t, c, other, encodePNG(t, testImage(4, 4))).must(t, 200).str("avatar_url")
	c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"avatar_url": theirs}).must(t, 400)
	c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"avatar_url": inst.URL + "/api/v1/avatars/" + strings.Repeat("0", 32)}).must(t, 400)
	c.req("GET", "/api/v1/avatars/"+strings.Repeat("0", 32), "", nil).must(t, 404)
	c.req("GET", "/api/v1/avatars/nope", "", nil).must(t, 404)

	saved := c.req("GET", "/api/v1/mp/me", tok, nil).must(t, 200).str("avatar_url")
	upd := c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"nickname": "Bob", "avatar_url": "https://thirdwx.qlogo.cn/mmopen/a/132"}).must(t, 200)
	if upd.str("nickname") != "Bob" || upd.str("avatar_url") != "https://thirdwx.qlogo.cn/mmopen/a/132" {
		t.Fatalf("patch: %s", upd.Body)
	}
	// The upload it replaced is gone.
	c.req("GET", strings.TrimPrefix(saved, inst.URL), "", nil).must(t, 404)
	c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"nickname": 5}).must(t, 400)
	c.req("PATCH", "/api/v1/mp/me", tok, map[string]any{"nickname": strings.Repeat("长", 65)}).must(t, 400)
}

// TestCORS: allowed origins get CORS headers for the widget; others do not.
func TestCORS(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{AllowedOrigins: []string{"https://shop.example"}})
	c := newClient(t, inst)
	pre := c.req("OPTIONS", "/api/v1/qr", "", nil, "Origin", "https://shop.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization")
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || pre.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight: %d %v", pre.Status, pre.Header)
	}
	r := c.req("POST", "/api/v1/qr", "", nil, "Origin", "https://shop.example").must(t, 201)
	if r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("no CORS on the answer: %v", r.Header)
	}
	r = c.req("POST", "/api/v1/qr", "", nil, "Origin", "https://evil.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS for a foreign origin: %v", r.Header)
	}
}

// TestRefusedOriginLogged: a cross-origin request from an origin missing
// from SCANLOGIN_ALLOWED_ORIGINS is logged once per origin, naming the
// setting; the allowed origins and our own are not.
func TestRefusedOriginLogged(t *testing.T) {
	logs := &servertest.LogBuffer{}
	inst := servertest.Start(t, servertest.Options{
		AllowedOrigins: []string{"https://shop.example"},
		Logger:         slog.New(slog.NewJSONHandler(logs, nil)),
	})
	c := newClient(t, inst)
	for _, origin := range []string{"https://evil.example", "https://shop.example", inst.URL, "https://evil.example", "https://other.example"} {
		c.req("POST", "/api/v1/qr", "", nil, "Origin", origin)
	}
	var refused []string
	for _, l := range logs.JSONLines() {
		if strings.HasPrefix(fmt.Sprint(l["msg"]), "refused a cross-origin request") {
			if l["setting"] != "SCANLOGIN_ALLOWED_ORIGINS" {
				t.Errorf("the line does not name the setting: %v", l)
			}
			refused = append(refused, fmt.Sprint(l["origin"]))
		}
	}
	if want := []string{"https://evil.example", "https://other.example"}; !slices.Equal(refused, want) {
		t.Fatalf("refused origins logged: %q, want %q", refused, want)
	}
}

// TestOperations: healthz, readyz, metrics with the documented series,
// config, the web pages and the dev routes.
func TestOperations(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{SiteName: "Shop"})
	c := newClient(t, inst)
	c.req("GET", "/healthz", "", nil).must(t, 200)
	c.req("GET", "/readyz", "", nil).must(t, 200)
	sc, _ := c.confirmed(inst)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
	if r := c.req("GET", "/api/v1/qr/"+sc.ID+"/image", "", nil); r.Status != 409 {
		t.Errorf("image of a redeemed scene: %d", r.Status)
	}
	c.req("GET", "/api/v1/qr/"+c.create().ID+"/image", "", nil).must(t, 200)
	c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=4&wait=0", sc.PollToken, nil).must(t, 200)
	c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": "bad-code"}).must(t, 401)
	m := string(c.req("GET", "/metrics", "", nil).must(t, 200).Body)
	for _, want := range []string{
		`scanlogin_http_requests_total{method="POST",route="/api/v1/qr",status="201"}`,
		`scanlogin_http_request_duration_seconds_bucket{method="GET",route="/api/v1/qr/:scene/state"`,
		`scanlogin_waiting_polls 0`,
		`scanlogin_scene_transitions_total{action="redeem",outcome="ok"} 1`,
		`scanlogin_wechat_calls_total{api="jscode2session",errcode="0"}`,
		`scanlogin_wechat_calls_total{api="jscode2session",errcode="40029"} 1`,
		`scanlogin_wechat_calls_total{api="getwxacodeunlimit",errcode="0"} 1`,
		`scanlogin_http_requests_total{method="POST",route="/api/v1/mp/login",status="401"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	cfg := c.req("GET", "/api/v1/config", "", nil).must(t, 200)
	if cfg.str("site_name") != "Shop" || cfg.JSON["dev_mode"] != true || cfg.JSON["number_match"] != false {
		t.Fatalf("config: %s", cfg.Body)
	}
	for _, p := range []string{"/", "/scanlogin.js", "/dev/phone?scene=" + sc.ID} {
		r := c.req("GET", p, "", nil).must(t, 200)
		if len(r.Body) == 0 {
			t.Errorf("%s: empty", p)
		}
	}
	c.req("GET", "/static/../../go.mod", "", nil).must(t, 404)
}

// TestProductionMode: with WeChat credentials the server talks to the
// configured WeChat (here the fake, over HTTP) and /dev/ does not exist.
func TestProductionMode(t *testing.T) {
	rs := scanlogintest.Start(t)
	fake, wx := wxfake.Start(t, wxfake.Options{AppID: "wx1234567890abcdef", Secret: "prod-secret"})
	key, _ := server.GenerateSigningKey()
	rdb := rs.Client(t)
	a, err := app.New(t.Context(), app.Config{
		PublicURL:        "https://login.example.com",
		RedisURL:         rs.URL(),
		DatabaseURL:      "sqlite://" + filepath.Join(t.TempDir(), "users.db"),
		WeChatAppID:      "wx1234567890abcdef",
		WeChatSecret:     "prod-secret",
		WeChatBaseURL:    wx.URL,
		SigningKeys:      []server.SigningKey{key},
		SessionKeySecret: make([]byte, 32),
	}, app.Deps{Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Fake != nil {
		t.Fatal("a fake WeChat with real credentials")
	}
	hs := httptest.NewServer(a.Server)
	defer hs.Close()
	c := &client{t: t, base: hs.URL, hc: hs.Client()}
	for _, p := range []string{"/dev/phone", "/dev/wechat/login", "/static/phone.html"} {
		c.req("GET", p, "", nil).must(t, 404)
	}
	c.req("POST", "/dev/wechat/login", "", `{"openid":"x"}`).must(t, 404)
	code, _ := fake.MintCode(context.Background(), newOpenID(), "")
	c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code}).must(t, 200)
	created := c.req("POST", "/api/v1/qr", "", nil).must(t, 201)
	if !strings.HasPrefix(created.str("qr_image_url"), "https://login.example.com/") {
		t.Fatalf("qr_image_url %s", created.str("qr_image_url"))
	}
	c.req("GET", "/api/v1/qr/"+created.str("scene")+"/image", "", nil).must(t, 200)
	if cfg := c.req("GET", "/api/v1/config", "", nil).must(t, 200); cfg.JSON["dev_mode"] != false {
		t.Fatalf("config: %s", cfg.Body)
	}
	sc, tok := c.confirmedWith(fake)
	red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
	if ck := sessionCookie(t, red.Header); !ck.Secure {
		t.Errorf("the cookie is not Secure for an https public URL: %+v", ck)
	}
	_ = tok
}

// confirmedWith is confirmed for a server without servertest.
func (c *client) confirmedWith(fake *wxfake.Fake) (scene, string) {
	c.t.Helper()
	sc := c.create()
	code, _ := fake.MintCode(context.Background(), newOpenID(), "")
	tok := c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": code}).must(c.t, 200).str("token")
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(c.t, 200)
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(c.t, 200)
	return sc, tok
}

// TestShutdownAnswersPolls: closing an instance answers its waiting polls
// with 200 and their current state, at once.
func TestShutdownAnswersPolls(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	const n = 5
	ch := make(chan *response, n)
	for range n {
		sc := c.create()
		go func() { ch <- c.req("GET", "/api/v1/qr/"+sc.ID+"/state?since=1&wait=30", sc.PollToken, nil) }()
	}
	waitGauge(t, inst, strconv.Itoa(n)) // Close finds every poll waiting
	start := time.Now()
	inst.Close()
	for range n {
		r := recvWithin(t, ch, 5*time.Second)
		if r.Status != 200 || r.str("state") != "pending" {
			t.Fatalf("poll during shutdown: %d %s", r.Status, r.Body)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
}

// TestPollScannedByOnChange: scanned_by comes with news (a new version, or
// no since); a poll whose wait ran out unchanged leaves it out, without
// reading the user again.
func TestPollScannedByOnChange(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	sc := c.create()
	tok, _ := c.login(inst, "Alice")
	c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)

	first := c.req("GET", "/api/v1/qr/"+sc.ID+"/state", sc.PollToken, nil).must(t, 200)
	by, _ := first.JSON["scanned_by"].(map[string]any)
	if first.str("state") != "scanned" || by["nickname"] != "Alice" {
		t.Fatalf("first poll: %s", first.Body)
	}
	if r := c.req("GET", fmt.Sprintf("/api/v1/qr/%s/state?since=1&wait=0", sc.ID), sc.PollToken, nil).must(t, 200); r.JSON["scanned_by"] == nil {
		t.Fatalf("poll after a change: %s", r.Body)
	}
	same := c.req("GET", fmt.Sprintf("/api/v1/qr/%s/state?since=%d&wait=0", sc.ID, first.num("version")), sc.PollToken, nil).must(t, 200)
	if same.str("state") != "scanned" || same.num("version") != first.num("version") {
		t.Fatalf("unchanged poll: %s", same.Body)
	}
	if _, ok := same.JSON["scanned_by"]; ok {
		t.Fatalf("an unchanged answer carries scanned_by: %s", same.Body)
	}
	c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
	done := c.req("GET", fmt.Sprintf("/api/v1/qr/%s/state?since=%d&wait=0", sc.ID, first.num("version")), sc.PollToken, nil).must(t, 200)
	if _, ok := done.JSON["scanned_by"]; done.str("state") != "confirmed" || ok {
		t.Fatalf("confirmed answer: %s (scanned_by is for the scanned state only)", done.Body)
	}
}

// TestHead: the probes an uptime monitor may send with HEAD answer as their
// GET does, headers without a body (before, 405).
func TestHead(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	for _, p := range []string{"/healthz", "/readyz", "/"} {
		get, err := http.Get(inst.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		conn, err := net.Dial("tcp", strings.TrimPrefix(inst.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "HEAD %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", p, strings.TrimPrefix(inst.URL, "http://"))
		raw, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: "HEAD"})
		if err != nil {
			t.Fatalf("HEAD %s: %v in %q", p, err, raw)
		}
		head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		if resp.StatusCode != get.StatusCode || resp.Header.Get("Content-Type") != get.Header.Get("Content-Type") || len(body) != 0 {
			t.Fatalf("HEAD %s: %s, a body of %d bytes; GET: %d %s", p, head, len(body), get.StatusCode, get.Header.Get("Content-Type"))
		}
	}
}
