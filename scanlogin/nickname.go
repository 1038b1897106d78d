package scanlogin

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxNickname is the longest nickname, in characters (after normalisation).
const MaxNickname = 64

// Nicknames are shown to other people, on the browser that asks "is this
// you?" and on the confirm page, so they must look like what they are
// (docs/ARCHITECTURE.md#security): no control characters (Cc), no format
// characters (Cf: the bidi overrides and isolates that make
// "abc\u202egnp.exe" read "abcexe.png", zero-width spaces and joiners, the
// byte order mark), no line or paragraph separators (Zl, Zp). Emoji joined
// with U+200D fall apart into their parts; that is the price.
var hiddenInNickname = []*unicode.RangeTable{unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp}

func hiddenRune(r rune) bool { return unicode.In(r, hiddenInNickname...) }

// CheckNickname is the rule for a nickname a person types: it returns the
// nickname as stored (NFC, spaces trimmed; "" clears it), or an error
// that says what is wrong, for the person to fix. Refused: invalid UTF-8,
// hidden characters (see hiddenInNickname), more than MaxNickname
// characters.
func CheckNickname(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("must be valid UTF-8")
	}
	if strings.IndexFunc(s, hiddenRune) >= 0 {
		return "", errors.New("must not contain control characters, invisible formatting characters or line breaks")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if utf8.RuneCountInString(s) > MaxNickname {
		return "", errors.New("at most 64 characters")
	}
	return s, nil
}

// CleanNickname is the rule for a nickname we did not get from the person
// (WeChat's profile data) and for every nickname we show, whatever wrote
// it: invalid bytes and hidden characters are dropped, the rest is
// normalised (NFC), trimmed and cut to MaxNickname characters.
func CleanNickname(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if hiddenRune(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(norm.NFC.String(s))
	if utf8.RuneCountInString(s) > MaxNickname {
		s = strings.TrimSpace(string([]rune(s)[:MaxNickname]))
	}
	return s
}
