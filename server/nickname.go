package server

import (
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
