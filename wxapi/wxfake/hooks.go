package wxfake

// Test hooks: plain JSON with HTTP statuses (they are not WeChat APIs).
// Dev mode serves them as part of scanlogin's API, so their errors take the
// same shape as the API's, and an unreachable store asks for a retry.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/go-json-experiment/json/jsontext"
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
	if err := decodeHook(r, &in); err != nil {
		hookError(w, http.StatusBadRequest, "body must be JSON {\"openid\",\"nickname\"?} in valid UTF-8")
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
	if err := decodeHook(r, &in); err != nil {
		hookError(w, http.StatusBadRequest, "body must be JSON {\"openid\",\"phone_number\"} in valid UTF-8")
		return
	}
	code, err := f.MintPhoneCode(r.Context(), in.OpenID, in.Phone)
	f.hookAnswer(w, code, err)
}

// decodeHook reads a hook's JSON body into v. Invalid UTF-8 (raw, or a
// lone surrogate escape) is refused like the API refuses it, instead of
// being replaced by U+FFFD as encoding/json does.
func decodeHook(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return err
	}
	if !jsontext.Value(body).IsValid(jsontext.AllowDuplicateNames(true)) {
		return errors.New("invalid JSON or UTF-8")
	}
	return json.Unmarshal(body, v)
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
