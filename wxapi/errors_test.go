package wxapi_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/scanlogin/scanlogin/wxapi"
)

// Each errcode matches its sentinel and no other.
func TestErrorIs(t *testing.T) {
	sentinels := []error{wxapi.ErrInvalidCode, wxapi.ErrCodeUsed, wxapi.ErrMinuteQuota, wxapi.ErrRiskyUser,
		wxapi.ErrTokenInvalid, wxapi.ErrDailyQuota, wxapi.ErrSystemBusy, wxapi.ErrInvalidSignature,
		wxapi.ErrUnavailable, wxapi.ErrBadData}
	tests := []struct {
		code int
		want []error
	}{
		{40029, []error{wxapi.ErrInvalidCode}},
		{40163, []error{wxapi.ErrCodeUsed}},
		{45011, []error{wxapi.ErrMinuteQuota}},
		{40226, []error{wxapi.ErrRiskyUser}},
		{40001, []error{wxapi.ErrTokenInvalid}},
		{42001, []error{wxapi.ErrTokenInvalid}},
		{40014, []error{wxapi.ErrTokenInvalid}},
		{45009, []error{wxapi.ErrDailyQuota}},
		{-1, []error{wxapi.ErrSystemBusy, wxapi.ErrUnavailable}},
		{87009, []error{wxapi.ErrInvalidSignature}},
		{41001, nil},
		{40125, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			err := fmt.Errorf("context: %w", &wxapi.Error{API: "x", Code: tt.code, Msg: "m rid: 1-2-3"})
			for _, s := range sentinels {
				want := false
				for _, w := range tt.want {
					want = want || w == s
				}
				if got := errors.Is(err, s); got != want {
					t.Errorf("errors.Is(%d, %v) = %v, want %v", tt.code, s, got, want)
				}
			}
		})
	}
}
