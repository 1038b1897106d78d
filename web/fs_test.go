package web_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/web"
)

// TestFS: the files the server routes to exist, and every local file a page
// or module refers to is embedded too (a missing one would only show up as
// a 404 in a browser). Nothing is loaded from another host.
func TestFS(t *testing.T) {
	for _, name := range []string{"index.html", "scanlogin.js", "scanlogin.mjs", "phone.html"} {
		if _, err := fs.Stat(web.FS, name); err != nil {
			t.Errorf("web.FS lacks %s: %v", name, err)
		}
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"|import [^'"]*['"](\.[^'"]+)['"]`)
	err := fs.WalkDir(web.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".mjs")) {
			return err
		}
		data, err := fs.ReadFile(web.FS, name)
		if err != nil {
			return err
		}
		for _, m := range refs.FindAllStringSubmatch(string(data), -1) {
			ref := m[1] + m[2]
			switch {
			case strings.HasPrefix(ref, "http:"), strings.HasPrefix(ref, "https:"), strings.HasPrefix(ref, "//"):
				t.Errorf("%s loads %s from another host", name, ref)
			case ref == "/scanlogin.js":
				// served from scanlogin.js at the root
			case strings.HasPrefix(ref, "/static/"):
				if _, err := fs.Stat(web.FS, strings.TrimPrefix(ref, "/static/")); err != nil {
					t.Errorf("%s refers to %s, which is not embedded", name, ref)
				}
			case strings.HasPrefix(ref, "./"):
				if _, err := fs.Stat(web.FS, strings.TrimPrefix(ref, "./")); err != nil {
					t.Errorf("%s imports %s, which is not embedded", name, ref)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
