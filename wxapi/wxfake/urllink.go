package wxfake

// URL Links: wxa/generate_urllink, and a test hook that opens one.

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// urlLinkMaxLife is WeChat's longest URL Link life since 2022: 30 days.
const urlLinkMaxLife = 30 * 24 * time.Hour

// DefaultURLLinkBase is where WeChat's URL Links live.
const DefaultURLLinkBase = "https://wxaurl.cn/"

var urlLinkQueryRE = regexp.MustCompile(`^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~%]*$`)

// URLLink is what a link made by generate_urllink opens.
type URLLink struct {
	Path, Query, EnvVersion string
	Expires                 time.Time
}

// ErrNoURLLink: the link is unknown, not one of this fake's, or expired.
var ErrNoURLLink = errors.New("wxfake: no such URL Link (unknown or expired)")

// generateURLLink checks what WeChat checks (the docs' §13a of the fact
// sheet): the page as getwxacodeunlimit's, known unless env_version is not
// release; the query's characters and length; env_version; the expiry
// within 30 days. Each link is new and unique, also for the same arguments.
func (f *Fake) generateURLLink(w http.ResponseWriter, r *http.Request) {
	m, ok := f.authorizedPost(w, r, 47001)
	if !ok {
		return
	}
	env := "release"
	if _, present := m["env_version"]; present {
		env, _ = str(m, "env_version")
		if !slices.Contains(envValues, env) {
			writeErr(w, 40097)
			return
		}
	}
	path, _ := str(m, "path")
	switch {
	case strings.HasPrefix(path, "/") || strings.Contains(path, "?"):
		writeErr(w, 40165)
		return
	case path != "" && env == "release" && !slices.Contains(f.opts.Pages, path):
		writeErr(w, 40165)
		return
	}
	query, _ := str(m, "query")
	if len(query) > 1024 || !urlLinkQueryRE.MatchString(query) {
		writeErr(w, 40212)
		return
	}
	now := f.now()
	var expires time.Time
	switch integer(m, "expire_type", 0) {
	case 0:
		at := integer(m, "expire_time", 0)
		expires = time.Unix(int64(at), 0)
		if at <= 0 || !expires.After(now) || expires.Sub(now) > urlLinkMaxLife {
			writeErr(w, 40097)
			return
		}
	case 1:
		days := integer(m, "expire_interval", 0)
		if days < 1 || days > 30 {
			writeErr(w, 40097)
			return
		}
		expires = now.Add(time.Duration(days) * 24 * time.Hour)
	default:
		writeErr(w, 40097)
		return
	}
	id := "dev" + randString(9, alnum)
	k := f.key("urllink", id)
	if err := f.rdb.HSet(r.Context(), k, "path", path, "query", query, "env", env, "exp", expires.Unix()).Err(); err != nil {
		writeErr(w, -1)
		return
	}
	// Relative to the fake's clock, which tests set.
	f.rdb.Expire(r.Context(), k, expires.Sub(now)+time.Minute)
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "url_link": f.urlLinkBase() + id})
}

func (f *Fake) urlLinkBase() string {
	if f.opts.URLLinkBase != "" {
		return f.opts.URLLinkBase
	}
	return DefaultURLLinkBase
}

// ResolveURLLink tells what a link made by this fake opens.
func (f *Fake) ResolveURLLink(ctx context.Context, link string) (*URLLink, error) {
	id, ok := strings.CutPrefix(link, f.urlLinkBase())
	if !ok || id == "" || strings.ContainsAny(id, "/?#") {
		return nil, ErrNoURLLink
	}
	v, err := f.rdb.HGetAll(ctx, f.key("urllink", id)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	exp, _ := strconv.ParseInt(v["exp"], 10, 64)
	if len(v) == 0 || !time.Unix(exp, 0).After(f.now()) {
		return nil, ErrNoURLLink
	}
	return &URLLink{Path: v["path"], Query: v["query"], EnvVersion: v["env"], Expires: time.Unix(exp, 0)}, nil
}

// openURLLink is the test hook GET /urllink/{id}: what tapping the link
// does. With Options.OpenURLLink (dev mode: the phone simulator) it
// redirects there; otherwise it answers what the link opens, as JSON.
func (f *Fake) openURLLink(w http.ResponseWriter, r *http.Request) {
	l, err := f.ResolveURLLink(r.Context(), f.urlLinkBase()+r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNoURLLink):
		http.Error(w, "This link has expired or does not exist. 该链接已失效。", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "fake WeChat: store error", http.StatusServiceUnavailable)
		return
	}
	if f.opts.OpenURLLink != nil {
		http.Redirect(w, r, f.opts.OpenURLLink(l.Path, l.Query), http.StatusFound)
		return
	}
	writeJSON(w, map[string]any{"path": l.Path, "query": l.Query, "env_version": l.EnvVersion, "expire_time": l.Expires.Unix()})
}
