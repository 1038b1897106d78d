package wxapi_test

import (
	"errors"
	"testing"
	"time"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

func TestMsgSecCheck(t *testing.T) {
	e := setup(t, nil)
	ctx := t.Context()
	code, _ := e.fake.MintCode(ctx, "oNick", "")
	if _, err := e.cl.Code2Session(ctx, code); err != nil {
		t.Fatal(err)
	}
	r, err := e.cl.MsgSecCheck(ctx, "oNick", "Band", 1)
	if err != nil || r.Suggest != wxapi.SuggestPass || r.Label != 100 || r.TraceID == "" {
		t.Fatalf("clean nickname: %+v, %v", r, err)
	}
	req := e.rec.last(t, "/wxa/msg_sec_check")
	body := decodeJSON(t, req.Body)
	if req.Query.Get("access_token") == "" || body["version"] != float64(2) || body["scene"] != float64(1) ||
		body["openid"] != "oNick" || body["content"] != "Band" || len(body) != 4 {
		t.Fatalf("request %+v, body %v", req, body)
	}
	if r, err := e.cl.MsgSecCheck(ctx, "oNick", "my FORBIDDEN-WORD name", 1); err != nil || r.Suggest != wxapi.SuggestRisky || r.Label != 21000 {
		t.Fatalf("blocked word: %+v, %v", r, err)
	}
	var we *wxapi.Error
	if _, err := e.cl.MsgSecCheck(ctx, "oNick", "Band", 9); !errors.As(err, &we) || we.Code != 40129 {
		t.Fatalf("bad scene: %v", err)
	}
	if _, err := e.cl.MsgSecCheck(ctx, "oStranger", "Band", 1); !errors.As(err, &we) || we.Code != 61010 {
		t.Fatalf("user never active: %v", err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.cl.MsgSecCheck(ctx, "oNick", "Band", 1); !errors.As(err, &we) || we.Code != 61010 {
		t.Fatalf("user inactive for 2 hours: %v", err)
	}
	// A label pushed as a string decodes too.
	e.fake.Inject(wxfake.APIMsgSecCheck, wxfake.Fault{Body: `{"errcode":0,"errmsg":"ok","result":{"suggest":"review","label":"20002"},"trace_id":"t"}`})
	if r, err := e.cl.MsgSecCheck(ctx, "oNick", "x", 1); err != nil || r.Suggest != wxapi.SuggestReview || r.Label != 20002 {
		t.Fatalf("string label: %+v, %v", r, err)
	}
}
