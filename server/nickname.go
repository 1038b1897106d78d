package server

import (
	"github.com/go-json-experiment/json/jsontext"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// nicknameParam is a nickname the person typed, as stored: normalised, or
// a 400 that says what to fix (scanlogin.CheckNickname). Nicknames from
// WeChat are cleaned instead (scanlogin.CleanNickname), and so is every
// nickname we show.
func nicknameParam(n string) (string, error) {
	nick, err := scanlogin.CheckNickname(n)
	if err != nil {
		return "", invalidRequest("nickname: %s", err)
	}
	return nick, nil
}

// validUTF8JSON refuses a JSON body with invalid UTF-8: raw bytes, or an
// escaped lone surrogate ("\ud800"). encoding/json would silently turn
// either into U+FFFD, so what we store would differ from what was sent.
// decodeJSON calls it after a successful decode, so syntax is not the
// trouble; jsontext (the validating tokenizer of encoding/json/v2) checks
// UTF-8 by default. Duplicate names stay allowed, as encoding/json allows
// them.
func validUTF8JSON(body []byte) error {
	if !jsontext.Value(body).IsValid(jsontext.AllowDuplicateNames(true)) {
		return invalidRequest("the body must be valid UTF-8 (no invalid bytes, no lone surrogate escapes)")
	}
	return nil
}
