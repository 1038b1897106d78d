package server_test

// Tests of the durable store under the running server: what a login costs
// the database, a database that goes away and comes back, no account ever
// split, and nothing of dev mode lost with Redis (docs/ARCHITECTURE.md,
// "Storage").

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/scanlogin/sqlstore/sqlstoretest"
	"github.com/scanlogin/scanlogin/server/servertest"
)

// dbCalls reads scanlogin_db_call_duration_seconds_count by operation from
// /metrics: every call the store reports to its Observe hook.
func dbCalls(t *testing.T, c *client) map[string]int {
	t.Helper()
	r := c.req("GET", "/metrics", "", nil).must(t, 200)
	out := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), `scanlogin_db_call_duration_seconds_count{op="`)
		if !ok {
			continue
		}
		op, n, _ := strings.Cut(rest, `"} `)
		v, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("metrics line %q", sc.Text())
		}
		out[op] = v
	}
	return out
}

// diff is what happened between two dbCalls readings.
func diff(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for op, n := range after {
		if n != before[op] {
			d[op] = n - before[op]
		}
	}
	return d
}

// waitState long-polls until the scene reaches state and returns the answer.
func waitState(t *testing.T, c *client, sc scene, since int64, state string) *response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := c.req("GET", fmt.Sprintf("/api/v1/qr/%s/state?since=%d&wait=5", sc.ID, since), sc.PollToken, nil).must(t, 200)
		if r.str("state") == state {
			return r
		}
		since = r.num("version")
	}
	t.Fatalf("scene never reached %s", state)
	return nil
}

// TestDatabaseQueriesPerLogin: a returning phone user's login costs the
// database nothing on the poll path (the scanner's name comes from the user
// cache in Redis) and one query on the redeem path (the sign-in history
// entry, written in the background), as counted by the store's Observe
// hook.
func TestDatabaseQueriesPerLogin(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "Alice") // the mini-program's login: the store is asked here
	for round := range 2 {
		sc := c.create()
		start := dbCalls(t, c)
		c.req("POST", "/api/v1/qr/"+sc.ID+"/scan", tok, nil).must(t, 200)
		scanned := waitState(t, c, sc, 1, "scanned")
		if by, _ := scanned.JSON["scanned_by"].(map[string]any); by["nickname"] != "Alice" {
			t.Fatalf("round %d: scanned_by %s", round, scanned.Body)
		}
		c.req("POST", "/api/v1/qr/"+sc.ID+"/confirm", tok, nil).must(t, 200)
		waitState(t, c, sc, scanned.num("version"), "confirmed")
		if d := diff(start, dbCalls(t, c)); len(d) != 0 {
			t.Fatalf("round %d: scan, confirm and polls queried the database: %v", round, d)
		}
		c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
		deadline := time.Now().Add(5 * time.Second)
		for dbCalls(t, c)["record_sign_ins"] == start["record_sign_ins"] && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // anything else would show up by now
		if d := diff(start, dbCalls(t, c)); len(d) != 1 || d["record_sign_ins"] != 1 {
			t.Fatalf("round %d: the redeem path queried the database %v, want record_sign_ins once", round, d)
		}
	}
}

// TestDatabaseDown: with the private PostgreSQL stopped under a running
// server, what needs the database answers 503 with Retry-After within 2 s
// (hung: the same), a confirmed scene whose user is cached is still
// redeemed, polls still answer, /readyz stays ready and says the database is
// unavailable; when PostgreSQL is back,
// everything works again without a restart.
func TestDatabaseDown(t *testing.T) {
	pg := sqlstoretest.Start(t)
	inst := servertest.Start(t, servertest.Options{DatabaseURL: pg.CreateDatabase(t)})
	c := newClient(t, inst)
	c.req("GET", "/readyz", "", nil).must(t, 200)
	sc, _ := c.confirmed(inst)
	stranger := c.create()
	strangerTok, strangerID := c.login(inst, "Stranger")
	unavailable := func(what string, r *response, took time.Duration) {
		t.Helper()
		if r.Status != 503 || r.Header.Get("Retry-After") == "" || r.errCode() != "unavailable" {
			t.Fatalf("%s: %d %v %s", what, r.Status, r.Header, r.Body)
		}
		if took > 2*time.Second {
			t.Fatalf("%s took %v", what, took)
		}
	}
	timed := func(f func() *response) (*response, time.Duration) {
		start := time.Now()
		r := f()
		return r, time.Since(start)
	}

	for _, mode := range []string{"stopped", "hung"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "stopped" {
				pg.Stop()
			} else {
				pg.Pause()
			}
			r, took := timed(func() *response {
				return c.req("POST", "/api/v1/mp/login", "", map[string]string{"code": inst.MintCode(t, newOpenID(), "")})
			})
			unavailable("first login", r, took)
			// Still ready (readiness is Redis, docs/ARCHITECTURE.md#logging): a load balancer keeps
			// sending the requests that need no database, and the rest get
			// the 503 above rather than the balancer's own error. The
			// database's state is in the answer.
			r, took = timed(func() *response { return c.req("GET", "/readyz", "", nil) })
			if r.Status != 200 || r.str("status") != "ready" || r.str("database") != "unavailable" || took > 2*time.Second {
				t.Fatalf("readyz: %d %s in %v", r.Status, r.Body, took)
			}
			r, took = timed(func() *response {
				return c.req("PATCH", "/api/v1/mp/me", strangerTok, map[string]string{"nickname": "x"})
			})
			unavailable("profile save", r, took)
			if mode == "stopped" {
				// The redeem needs only Redis: the user is cached, and the
				// sign-in is history written in the background.
				red := c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200)
				c.req("GET", "/api/v1/me", red.str("access_token"), nil).must(t, 200)
				// A scanner who is not cached: the poll answers without the
				// name rather than holding up the login.
				inst.Client.Del(t.Context(), "sl:user:{"+strangerID+"}:c")
				c.req("POST", "/api/v1/qr/"+stranger.ID+"/scan", strangerTok, nil).must(t, 200)
				got := waitState(t, c, stranger, 1, "scanned")
				if _, named := got.JSON["scanned_by"]; named {
					t.Fatalf("scanned_by from nowhere: %s", got.Body)
				}
				pg.Restart()
			} else {
				pg.Resume()
			}
			// Back without a restart of the server.
			deadline := time.Now().Add(10 * time.Second)
			for c.req("GET", "/readyz", "", nil).str("database") != "ok" {
				if time.Now().After(deadline) {
					t.Fatal("not ready again after the database came back")
				}
				time.Sleep(50 * time.Millisecond)
			}
			c.login(inst, "Back")
			c.req("PATCH", "/api/v1/mp/me", strangerTok, map[string]string{"nickname": "又来了"}).must(t, 200)
			// The sign-in history is written again.
			history := func() int {
				h, err := inst.Store.SignIns(t.Context(), strangerID, 100)
				if err != nil {
					t.Fatal(err)
				}
				return len(h)
			}
			before := history()
			again := c.create()
			c.req("POST", "/api/v1/qr/"+again.ID+"/scan", strangerTok, nil).must(t, 200)
			c.req("POST", "/api/v1/qr/"+again.ID+"/confirm", strangerTok, nil).must(t, 200)
			c.req("POST", "/api/v1/qr/"+again.ID+"/redeem", again.PollToken, nil).must(t, 200)
			for deadline := time.Now().Add(5 * time.Second); history() == before; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no sign-in history written after the database came back")
				}
			}
		})
	}
	// The outage is in the metrics: failed calls by operation and kind, and
	// the connection pool.
	m := string(c.req("GET", "/metrics", "", nil).must(t, 200).Body)
	// The redeem's sign-in while the database was stopped is among them:
	// its entry is lost (and logged), the login was not.
	for _, want := range []string{`scanlogin_db_errors_total{kind="unavailable",op="login_user"} `, "scanlogin_db_pool_max_open_connections 10\n",
		`scanlogin_db_errors_total{kind="unavailable",op="record_sign_ins"} `,
		"scanlogin_db_pool_open_connections ", "scanlogin_db_pool_wait_seconds_total "} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestNoAccountSplit: 100 concurrent first logins of one WeChat user across
// two instances (one Redis, one PostgreSQL) make one user; a Redis FLUSHALL
// between two logins changes neither the user's ID, nickname nor avatar.
func TestNoAccountSplit(t *testing.T) {
	a := servertest.Start(t, servertest.Options{DatabaseURL: sqlstoretest.Database(t)})
	b := servertest.Start(t, servertest.Options{RedisURL: a.Redis.URL(), DatabaseURL: a.DatabaseURL})
	openID := newOpenID()
	const n = 100
	codes := make([]string, n)
	for i := range codes {
		codes[i] = a.MintCode(t, openID, "")
	}
	type result struct {
		status     int
		retryAfter string
		id         string
		isNew      bool
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		wg.Go(func() {
			resp, err := http.Post(base+"/api/v1/mp/login", "application/json", strings.NewReader(`{"code":"`+codes[i]+`"}`))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct {
				IsNewUser bool `json:"is_new_user"`
				User      struct {
					ID string `json:"id"`
				} `json:"user"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			results[i] = result{resp.StatusCode, resp.Header.Get("Retry-After"), body.User.ID, body.IsNewUser}
		})
	}
	wg.Wait()
	// On a loaded machine a login may wait too long for a database
	// connection: it answers 503 with Retry-After, and the phone logs in
	// again later. Every login that succeeds is the one user.
	created, ok, id := 0, 0, ""
	for i, r := range results {
		if r.status == http.StatusServiceUnavailable && r.retryAfter != "" {
			continue
		}
		if r.status != 200 || r.id == "" || (id != "" && r.id != id) {
			t.Fatalf("login %d: %+v, the user of the others %q", i, r, id)
		}
		id = r.id
		ok++
		if r.isNew {
			created++
		}
	}
	if ok < n/2 {
		t.Fatalf("only %d of %d logins succeeded", ok, n)
	}
	counts, err := a.Store.Counts(t.Context())
	if err != nil || created != 1 || counts.Users != 1 || counts.Identities != 1 {
		t.Fatalf("%d logins said new user; the database holds %+v (%v)", created, counts, err)
	}

	// Another user (WeChat allows 100 logins a minute per user, spent above).
	openID = newOpenID()
	ca := newClient(t, a)
	first := ca.req("POST", "/api/v1/mp/login", "", map[string]string{"code": a.MintCode(t, openID, "")}).must(t, 200)
	tok := first.str("token")
	firstUser, _ := first.JSON["user"].(map[string]any)
	avatar := upload(t, ca, tok, encodePNG(t, testImage(8, 8))).must(t, 200).str("avatar_url")
	ca.req("PATCH", "/api/v1/mp/me", tok, map[string]string{"nickname": "不变", "avatar_url": avatar}).must(t, 200)
	if err := a.Client.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	cb := newClient(t, b)
	again := cb.req("POST", "/api/v1/mp/login", "", map[string]string{"code": b.MintCode(t, openID, "")}).must(t, 200)
	user, _ := again.JSON["user"].(map[string]any)
	if again.JSON["is_new_user"] != false || user["id"] != firstUser["id"] || user["nickname"] != "不变" || user["avatar_url"] != avatar {
		t.Fatalf("after FLUSHALL: %s (was %v)", again.Body, firstUser["id"])
	}
	cb.req("GET", strings.TrimPrefix(avatar, a.URL), "", nil).must(t, 200)
}

// signedIn takes a fresh user through a whole login on inst and returns the
// access token.
func signedIn(t *testing.T, inst *servertest.Instance) string {
	t.Helper()
	c := newClient(t, inst)
	sc, _ := c.confirmed(inst)
	return c.req("POST", "/api/v1/qr/"+sc.ID+"/redeem", sc.PollToken, nil).must(t, 200).str("access_token")
}

// TestDevKeysSurviveRedisLoss: two dev instances on one Redis and one
// database; Redis loses everything (FLUSHALL) and one instance restarts:
// the access tokens each signs still verify on the other, because the dev
// signing key, issuer and session-key secret live in the database.
func TestDevKeysSurviveRedisLoss(t *testing.T) {
	a := servertest.Start(t, servertest.Options{DatabaseURL: sqlstoretest.Database(t)})
	b := servertest.Start(t, servertest.Options{RedisURL: a.Redis.URL(), DatabaseURL: a.DatabaseURL})
	newClient(t, b).req("GET", "/api/v1/me", signedIn(t, a), nil).must(t, 200)

	if err := a.Client.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	redisURL := a.Redis.URL()
	a.Close()
	a2 := servertest.Start(t, servertest.Options{RedisURL: redisURL, DatabaseURL: b.DatabaseURL})
	ca2, cb := newClient(t, a2), newClient(t, b)
	if r := cb.req("GET", "/api/v1/me", signedIn(t, a2), nil); r.Status != 200 {
		t.Fatalf("a token of the restarted instance on the other: %d %s", r.Status, r.Body)
	}
	if r := ca2.req("GET", "/api/v1/me", signedIn(t, b), nil); r.Status != 200 {
		t.Fatalf("a token of the other instance on the restarted one: %d %s", r.Status, r.Body)
	}
	if ja, jb := ca2.req("GET", "/.well-known/jwks.json", "", nil).Body, cb.req("GET", "/.well-known/jwks.json", "", nil).Body; !bytes.Equal(ja, jb) {
		t.Fatalf("the instances publish different keys:\n%s\n%s", ja, jb)
	}
}
