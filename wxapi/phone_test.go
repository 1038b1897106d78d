package wxapi_test

import (
	"errors"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

func TestPhoneNumber(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	code, err := e.fake.MintPhoneCode(ctx, "oPhone", "13800138000")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.cl.PhoneNumber(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if *p != (wxapi.PhoneInfo{PhoneNumber: "13800138000", PurePhoneNumber: "13800138000", CountryCode: "86"}) {
		t.Fatalf("phone = %+v", p)
	}
	req := e.rec.last(t, "/wxa/business/getuserphonenumber")
	tok, _ := e.cl.AccessToken(ctx)
	body := decodeJSON(t, req.Body)
	if req.Method != "POST" || req.Query.Get("access_token") != tok || len(body) != 1 || body["code"] != code {
		t.Fatalf("request = %+v, body %v", req, body)
	}
	if _, err := e.cl.PhoneNumber(ctx, code); !errors.Is(err, wxapi.ErrInvalidCode) {
		t.Fatalf("reused phone code: %v", err)
	}
	hk, _ := e.fake.MintPhoneCode(ctx, "oPhone", "+852 91234567")
	if p, err := e.cl.PhoneNumber(ctx, hk); err != nil || *p != (wxapi.PhoneInfo{PhoneNumber: "+85291234567", PurePhoneNumber: "91234567", CountryCode: "852"}) {
		t.Fatalf("Hong Kong number: %+v, %v", p, err)
	}
	old, _ := e.fake.MintPhoneCode(ctx, "oPhone", "13800138000")
	e.clock.Advance(5 * time.Minute)
	if _, err := e.cl.PhoneNumber(ctx, old); !errors.Is(err, wxapi.ErrInvalidCode) {
		t.Fatalf("phone code 5 minutes old: %v", err)
	}
	// A login code is not a phone code.
	login, _ := e.fake.MintCode(ctx, "oPhone", "")
	if _, err := e.cl.PhoneNumber(ctx, login); !errors.Is(err, wxapi.ErrInvalidCode) {
		t.Fatalf("login code as phone code: %v", err)
	}
	if _, err := e.cl.PhoneNumber(ctx, ""); !errors.Is(err, wxapi.ErrInvalidCode) {
		t.Fatalf("empty code: %v", err)
	}
}

func TestPhoneNumberAnswers(t *testing.T) {
	tests := []struct {
		name     string
		fault    wxfake.Fault
		want     *wxapi.PhoneInfo
		sentinel error
	}{
		{name: "countryCode as a number", fault: wxfake.Fault{Body: `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":86,"watermark":{"timestamp":1637744274,"appid":"wx1234567890abcdef"}}}`},
			want: &wxapi.PhoneInfo{PhoneNumber: "13800138000", PurePhoneNumber: "13800138000", CountryCode: "86"}},
		{name: "no errcode at all", fault: wxfake.Fault{Body: `{"phone_info":{"phoneNumber":"+85291234567","purePhoneNumber":"91234567","countryCode":"852","watermark":{"timestamp":"1637744274","appid":"wx1234567890abcdef"}}}`, ContentType: "text/plain"},
			want: &wxapi.PhoneInfo{PhoneNumber: "+85291234567", PurePhoneNumber: "91234567", CountryCode: "852"}},
		{name: "watermark of another app", fault: wxfake.Fault{Body: `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":"86","watermark":{"timestamp":1,"appid":"wxother"}}}`},
			sentinel: wxapi.ErrBadData},
		{name: "minute quota", fault: wxfake.Fault{Errcode: 45011}, sentinel: wxapi.ErrMinuteQuota},
		{name: "invalid code", fault: wxfake.Fault{Errcode: 40029}, sentinel: wxapi.ErrInvalidCode},
		{name: "busy", fault: wxfake.Fault{Errcode: -1}, sentinel: wxapi.ErrSystemBusy},
	}
	e := setup(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fake.Inject(wxfake.APIPhoneNumber, tt.fault)
			defer e.fake.ClearFaults()
			p, err := e.cl.PhoneNumber(t.Context(), "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144")
			if tt.want != nil {
				if err != nil || *p != *tt.want {
					t.Fatalf("got %+v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, tt.sentinel) || p != nil {
				t.Fatalf("got %+v, %v; want %v", p, err, tt.sentinel)
			}
		})
	}
}
