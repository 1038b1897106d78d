package server

import (
	"testing"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// WeChat's legacy profile at mini-program login is cleaned, not refused: a
// nickname with a right-to-left override is stored without it.
func TestFillProfileCleansWeChatNickname(t *testing.T) {
	upd := fillProfile(&scanlogin.User{}, wxProfile{NickName: " abc\u202egnp.exe\u200d "})
	if upd == nil || upd.Nickname == nil || *upd.Nickname != "abcgnp.exe" {
		t.Fatalf("update %+v", upd)
	}
	if upd := fillProfile(&scanlogin.User{}, wxProfile{NickName: "\u202e\u200b"}); upd != nil {
		t.Fatalf("a nickname of hidden characters only was kept: %+v", upd)
	}
}
