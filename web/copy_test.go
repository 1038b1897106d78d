package web_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scanlogin/scanlogin/web"
)

// chineseRules are what the web's Chinese must never do: the
// mini-program's terms (miniprogram/utils/locales/zh.js: 账号, 登录,
// 二维码) and Chinese punctuation, full-width and with no space around
// it (its test/static.test.js holds the same rules).
var chineseRules = []struct {
	re   *regexp.Regexp
	want string
}{
	{regexp.MustCompile(`帐号`), "账号, as the mini-program writes it"},
	{regexp.MustCompile(`登入`), "登录"},
	{regexp.MustCompile(`轻触|轻点`), "点击, on a phone too, as WeChat and the mini-program say"},
	{regexp.MustCompile(`登录码|这个码|该码|小程序码`), "二维码 (登录二维码), as the mini-program calls the code"},
	{regexp.MustCompile(`\p{Han}[,.?!:;)]|[,?!:;(]\p{Han}`), "full-width punctuation (，。？！：；（）) next to Chinese"},
	{regexp.MustCompile(` [，。？！：；、）”》]|[，。？！：；、（“《] `), "no space around full-width punctuation"},
	{regexp.MustCompile(`、(并且|而且|或者|但是)|：(如果|请)`), "no 顿号 before a conjunction, no colon before an instruction"},
}

// TestChineseCopy: every line of Chinese a person reads on the web side
// (the pages, the widget, the OpenID provider's pages) keeps the product's
// terms and Chinese punctuation. Comments are skipped.
func TestChineseCopy(t *testing.T) {
	type file struct{ name, text string }
	var files []file
	err := fs.WalkDir(web.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".js")) {
			return err
		}
		b, err := fs.ReadFile(web.FS, name)
		files = append(files, file{"web/static/" + name, string(b)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	goFiles, _ := filepath.Glob("../server/oidcop/*.go")
	more, _ := filepath.Glob("../server/*.go")
	for _, name := range append(goFiles, more...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file{strings.TrimPrefix(name, "../"), string(b)})
	}
	han := regexp.MustCompile(`\p{Han}`)
	comment := regexp.MustCompile(`^\s*(//|\*|/\*|<!--)`)
	n := 0
	for _, f := range files {
		for i, line := range strings.Split(f.text, "\n") {
			if !han.MatchString(line) || comment.MatchString(line) {
				continue
			}
			n++
			for _, r := range chineseRules {
				if m := r.re.FindString(line); m != "" {
					t.Errorf("%s:%d: %q: want %s", f.name, i+1, m, r.want)
				}
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d lines of Chinese found; the test reads the wrong files", n)
	}
}

// TestButtonNames: the words that name the mini-program's buttons are its
// own (miniprogram/utils/locales): the simulator, which plays its confirm
// page, has the same buttons, and the widget's "scanned" hint tells the
// user to tap the button the phone shows.
func TestButtonNames(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	str := func(src, key string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`\b`+key+`: '([^']*)'`).FindAllStringSubmatch(src, -1) {
			out = append(out, m[1])
		}
		return out
	}
	locales := read("static/locales.js")
	widget := read("static/scanlogin.js")
	// locales.js and scanlogin.js have English first, then Chinese.
	for i, lang := range []string{"en", "zh"} {
		mini := read("../miniprogram/utils/locales/" + lang + ".js")
		confirm, decline := str(mini, "confirm"), str(mini, "decline")
		if len(confirm) != 1 || len(decline) != 1 {
			t.Fatalf("%s.js: confirm %q, decline %q", lang, confirm, decline)
		}
		if got := str(locales, "confirm"); len(got) != 2 || got[i] != confirm[0] {
			t.Errorf("simulator's confirm buttons %q; want %s %q, the mini-program's", got, lang, confirm[0])
		}
		if got := str(locales, "decline"); len(got) != 2 || got[i] != decline[0] {
			t.Errorf("simulator's decline buttons %q; want %s %q, the mini-program's", got, lang, decline[0])
		}
		word := confirm[0]
		if lang == "zh" {
			word = "确认" // WeChat's own web login page: 请在微信中点击确认即可登录
		}
		if got := str(widget, "scannedHint"); len(got) != 2 || !strings.Contains(got[i], word) {
			t.Errorf("widget's scannedHint %q; want %s to name the mini-program's %q", got, lang, word)
		}
	}
}
