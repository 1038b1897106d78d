package wxfake

// Test hooks: plain JSON with HTTP statuses (they are not WeChat APIs).
// Dev mode serves them as part of scanlogin's API, so their errors take the
// same shape as the API's, and an unreachable store asks for a retry.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

func hookError(w http.ResponseWriter, status int, msg string) {
	code := "invalid_request"
	if status == http.StatusServiceUnavailable {
		code = "unavailable"
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *Fake) hookLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OpenID   string `json:"openid"`
		Nickname string `json:"nickname"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		hookError(w, http.StatusBadRequest, "body must be JSON {\"openid\",\"nickname\"?}")
		return
	}
	if len([]rune(in.Nickname)) > 64 {
		hookError(w, http.StatusBadRequest, "nickname longer than 64 characters")
		return
	}
	code, err := f.MintCode(r.Context(), in.OpenID, in.Nickname)
	f.hookAnswer(w, code, err)
}

func (f *Fake) hookPhoneCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OpenID string `json:"openid"`
		Phone  string `json:"phone_number"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		hookError(w, http.StatusBadRequest, "body must be JSON {\"openid\",\"phone_number\"}")
		return
	}
	code, err := f.MintPhoneCode(r.Context(), in.OpenID, in.Phone)
	f.hookAnswer(w, code, err)
}

func (f *Fake) hookAnswer(w http.ResponseWriter, code string, err error) {
	var ie inputError
	switch {
	case errors.As(err, &ie):
		hookError(w, http.StatusBadRequest, ie.Error())
	case err != nil:
		hookError(w, http.StatusServiceUnavailable, "store unavailable")
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"code": code})
	}
}

// inputError is a caller mistake in a hook or a Mint method.
type inputError struct{ msg string }

func (e inputError) Error() string { return e.msg }
