package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS holds the web files rooted at static/: index.html (the login page),
// scanlogin.js (the widget), phone.html (the dev phone simulator) and the
// files they load. It is read-only.
var FS fs.FS = mustSub(static, "static")

// mustSub cannot fail for a directory embedded above; a panic here means the
// embed directive and the name disagree, which no test run would miss.
func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
