package wxapi

import (
	"errors"
	"fmt"
)

// Error is a WeChat answer with a non-zero errcode. API names the endpoint
// ("jscode2session", "stable_token", "getwxacodeunlimit", ...); Msg is
// WeChat's errmsg, which carries a request id that changes every call, so
// only Code may be compared.
type Error struct {
	API  string
	Code int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("wxapi: %s: errcode %d: %s", e.API, e.Code, e.Msg)
}

// Is matches the sentinel that stands for e.Code, so callers write
// errors.Is(err, wxapi.ErrCodeUsed) instead of comparing numbers.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalidCode:
		return e.Code == CodeInvalidCode
	case ErrCodeUsed:
		return e.Code == CodeCodeUsed
	case ErrMinuteQuota:
		return e.Code == CodeMinuteQuota
	case ErrRiskyUser:
		return e.Code == CodeRiskyUser
	case ErrTokenInvalid:
		return isTokenCode(e.Code)
	case ErrDailyQuota:
		return e.Code == CodeDailyQuota
	case ErrSystemBusy:
		return e.Code == CodeSystemBusy
	case ErrInvalidSignature:
		return e.Code == CodeInvalidSignature
	case ErrUnavailable:
		// "system busy" that outlived the retries leaves WeChat unusable for
		// now, just like a transport failure.
		return e.Code == CodeSystemBusy
	}
	return false
}

// WeChat errcodes the client and the fake both need by name.
const (
	CodeSystemBusy       = -1
	CodeTokenInvalid     = 40001 // invalid or superseded access_token (or bad secret on the token endpoint)
	CodeTokenMalformed   = 40014
	CodeTokenExpired     = 42001
	CodeTokenMissing     = 41001
	CodeInvalidCode      = 40029
	CodeCodeUsed         = 40163
	CodeRiskyUser        = 40226
	CodeDailyQuota       = 45009 // also the per-minute limit of the wxacode APIs
	CodeMinuteQuota      = 45011
	CodeInvalidSignature = 87009
)

func isTokenCode(code int) bool {
	return code == CodeTokenInvalid || code == CodeTokenExpired || code == CodeTokenMalformed
}

// Sentinels matched by *Error (and, for ErrUnavailable and ErrBadData, by
// errors wrapping them).
var (
	ErrInvalidCode      = errors.New("wxapi: invalid code")                 // 40029: unknown, expired or foreign code
	ErrCodeUsed         = errors.New("wxapi: code already used")            // 40163
	ErrMinuteQuota      = errors.New("wxapi: per-minute quota reached")     // 45011
	ErrRiskyUser        = errors.New("wxapi: login blocked for risky user") // 40226
	ErrTokenInvalid     = errors.New("wxapi: access token invalid")         // 40001, 42001, 40014
	ErrDailyQuota       = errors.New("wxapi: quota reached")                // 45009
	ErrSystemBusy       = errors.New("wxapi: WeChat system busy")           // -1 (after retries)
	ErrInvalidSignature = errors.New("wxapi: invalid signature")            // 87009: checksession says the session key is not current

	// ErrUnavailable: WeChat could not be reached, did not answer in time
	// after the retries, or answered something unusable (not JSON where JSON
	// is due, an image that is neither PNG nor JPEG); also matched by a -1
	// that outlived the retries.
	ErrUnavailable = errors.New("wxapi: WeChat unavailable")
	// ErrBadData: data handed in by the caller failed a check: decryption,
	// padding, watermark appid or signature.
	ErrBadData = errors.New("wxapi: bad data")
)
