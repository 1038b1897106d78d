package wxfake

// Phone numbers: getuserphonenumber (phone codes, single use).

import (
	"net/http"
	"strconv"
	"strings"
)

func (f *Fake) phoneNumber(w http.ResponseWriter, r *http.Request) {
	m, ok := f.authorizedPost(w, r, 47001)
	if !ok {
		return
	}
	code, _ := str(m, "code")
	_, rec, ok := f.spend(w, r, "pcode", code, APIPhoneNumber)
	if !ok {
		return
	}
	phone, cc, pure := rec["phone"], "86", rec["phone"]
	if strings.HasPrefix(phone, "+") {
		i := strings.IndexAny(phone, " -")
		cc, pure = phone[1:i], phone[i+1:]
		phone = "+" + cc + pure
	}
	issued, _ := strconv.ParseInt(rec["issued"], 10, 64)
	writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok",
		"phone_info": map[string]any{
			"phoneNumber": phone, "purePhoneNumber": pure, "countryCode": cc,
			"watermark": map[string]any{"timestamp": issued / 1000, "appid": f.appID},
		},
	})
}
