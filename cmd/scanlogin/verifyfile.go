package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/scanlogin/scanlogin/server"
)

// maxVerifyFile bounds a verification file: WeChat's hold a short token.
const maxVerifyFile = 4 << 10

// verifyFiles reads WeChat's verification files from name: either
// "name.txt:content" (the file WeChat's console offers, written out), or a
// directory whose *.txt files are served as they are (README.md, "QR
// modes").
func verifyFiles(e *env, name string) map[string][]byte {
	v := e.str(name)
	if v == "" {
		return nil
	}
	if file, content, ok := strings.Cut(v, ":"); ok && strings.HasSuffix(file, ".txt") && !strings.Contains(file, "/") {
		if !server.VerifyFileName.MatchString(file) || content == "" {
			e.fail(name, "want name.txt:content with a name like abc123.txt, got %q", file)
			return nil
		}
		return map[string][]byte{file: []byte(content)}
	}
	entries, err := os.ReadDir(v)
	if err != nil {
		e.fail(name, "want name.txt:content or a directory of .txt files: %v", err)
		return nil
	}
	out := map[string][]byte{}
	for _, ent := range entries {
		if ent.IsDir() || !strings.HasSuffix(ent.Name(), ".txt") {
			continue
		}
		if !server.VerifyFileName.MatchString(ent.Name()) {
			e.fail(name, "%s: want names like abc123.txt", ent.Name())
			continue
		}
		b, err := os.ReadFile(filepath.Join(v, ent.Name()))
		if err != nil || len(b) > maxVerifyFile {
			e.fail(name, "%s: unreadable or over %d bytes", ent.Name(), maxVerifyFile)
			continue
		}
		out[ent.Name()] = b
	}
	if len(out) == 0 {
		e.fail(name, "no .txt file in %s", v)
	}
	return out
}
