package wxapi_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/scanlogin/scanlogin/wxapi"
	"github.com/scanlogin/scanlogin/wxapi/wxfake"
)

// A login against the fake WeChat: the mini-program's wx.login code becomes
// an OpenID; the same code a second time is ErrCodeUsed.
func ExampleClient_Code2Session() {
	ctx := context.Background()
	fake, srv := wxfake.NewServer(wxfake.Options{})
	defer srv.Close()
	defer fake.Close() // first: it releases requests hanging on a fault

	wx, err := wxapi.New(wxapi.Config{AppID: fake.AppID(), Secret: fake.Secret(), BaseURL: srv.URL})
	if err != nil {
		panic(err)
	}
	code, _ := fake.MintCode(ctx, "oExampleUser", "Example")
	s, err := wx.Code2Session(ctx, code)
	fmt.Println(s.OpenID, err)
	_, err = wx.Code2Session(ctx, code)
	fmt.Println(errors.Is(err, wxapi.ErrCodeUsed))
	// Output:
	// oExampleUser <nil>
	// true
}

// A login QR code: the bytes are sniffed, whatever WeChat's header says.
func ExampleClient_UnlimitedQRCode() {
	ctx := context.Background()
	fake, srv := wxfake.NewServer(wxfake.Options{})
	defer srv.Close()
	defer fake.Close()

	wx, _ := wxapi.New(wxapi.Config{AppID: fake.AppID(), Secret: fake.Secret(), BaseURL: srv.URL})
	img, contentType, err := wx.UnlimitedQRCode(ctx, "Q9fK2mZx7LpA", "pages/scan/scan", "release", true, 280)
	fmt.Println(contentType, len(img) > 0, err)
	_, _, err = wx.UnlimitedQRCode(ctx, "no spaces allowed", "pages/scan/scan", "release", true, 280)
	var we *wxapi.Error
	fmt.Println(errors.As(err, &we), we.Code)
	// Output:
	// image/png true <nil>
	// true 40129
}
