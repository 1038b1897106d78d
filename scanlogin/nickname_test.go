package scanlogin

import (
	"strings"
	"testing"
)

func TestCleanNickname(t *testing.T) {
	for in, want := range map[string]string{
		"abc\u202egnp.exe":      "abcgnp.exe",
		"a\u200d\u200b\ufeffb":  "ab",
		"a\u2028b\u2029c\nd":    "abcd",
		"\x00\x07 Alice\u0085 ": "Alice",
		"e\u0301":               "\u00e9",
		"bad\xff\xfebytes":      "badbytes",
		strings.Repeat("名", 70): strings.Repeat("名", MaxNickname),
		"小明 🙂":                  "小明 🙂",
	} {
		if got := CleanNickname(in); got != want {
			t.Errorf("CleanNickname(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckNickname(t *testing.T) {
	for in, want := range map[string]string{
		"  Bob  ":               "Bob",
		"e\u0301":               "\u00e9",
		strings.Repeat("名", 64): strings.Repeat("名", 64),
		" ":                     "",
	} {
		if got, err := CheckNickname(in); err != nil || got != want {
			t.Errorf("CheckNickname(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"abc\u202egnp.exe", "a\u200db", "a\u2028b", "a\x07b", "a\xffb", strings.Repeat("名", 65)} {
		if got, err := CheckNickname(in); err == nil {
			t.Errorf("CheckNickname(%q) = %q, want an error", in, got)
		}
	}
}
