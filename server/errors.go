package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/wxapi"
)

// Error is an error with its place in the API: an HTTP status, an API error
// code and a message that is safe to show to the client. Handlers return
// domain or wxapi errors as they are; errorFor turns them into an *Error
// using the one table below.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // sets Retry-After when > 0
	cause      error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Message + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// invalidRequest is the 400 for a malformed request; msg names the field.
func invalidRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: fmt.Sprintf(format, args...)}
}

// Errors the HTTP layer produces itself.
var (
	errUnauthorized     = &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "a valid token is required"}
	errForbiddenOrigin  = &Error{Status: http.StatusForbidden, Code: "forbidden_origin", Message: "cross-site request refused"}
	errTooLarge         = &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Message: "the request body is too large"}
	errUnsupportedMedia = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "the file must be a PNG, JPEG or WebP image"}
	errNotJSON          = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "the body must be application/json"}
	errRateLimited      = &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many requests, retry later"}
	errNoFile           = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such file"}
	errNoAvatar         = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such avatar"}
	errSessionNotFound  = &Error{Status: http.StatusNotFound, Code: "session_not_found", Message: "no such session"}
	// The legacy getUserInfo fields of mp/login that do not verify; the
	// cause is wrapped beside them (badUserData) for the log.
	errBadSignature     = &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "signature: does not match raw_data"}
	errBadEncryptedData = &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "encrypted_data: could not be decrypted or verified"}
)

// badUserData is one of errBadSignature and errBadEncryptedData with its
// cause.
func badUserData(e *Error, cause error) error { return fmt.Errorf("%w: %w", e, cause) }

// codeOverloaded is the code of a 503 that says the load is the trouble, not
// a store that is down: scanlogin.ErrOverloaded, from Redis or the database.
const codeOverloaded = "overloaded"

// errorTable is the one place where errors become statuses and error codes (docs/ARCHITECTURE.md#errors).
// Order matters only where one error wraps another; the first match wins.
var errorTable = []struct {
	err        error
	status     int
	code       string
	message    string
	retryAfter time.Duration
}{
	// The scene state machine (docs/ARCHITECTURE.md#state-machine).
	{scanlogin.ErrInvalidSceneID, http.StatusBadRequest, "invalid_request", "scene: must be 32 lowercase hexadecimal characters", 0},
	{scanlogin.ErrSceneNotFound, http.StatusNotFound, "scene_not_found", "no such scene", 0},
	{scanlogin.ErrInvalidPollToken, http.StatusUnauthorized, "invalid_poll_token", "the poll token is missing or wrong", 0},
	{scanlogin.ErrAlreadyScanned, http.StatusConflict, "already_scanned", "the code was already scanned by someone else", 0},
	{scanlogin.ErrNotScanner, http.StatusForbidden, "not_scanner", "only the user who scanned can do this", 0},
	{scanlogin.ErrNotScanned, http.StatusConflict, "not_scanned", "the code has not been scanned", 0},
	{scanlogin.ErrNotConfirmed, http.StatusConflict, "not_confirmed", "the login has not been confirmed", 0},
	{scanlogin.ErrAlreadyRedeemed, http.StatusConflict, "already_redeemed", "the login was already redeemed", 0},
	{scanlogin.ErrSceneExpired, http.StatusGone, "scene_expired", "the code has expired", 0},
	{scanlogin.ErrSceneFinal, http.StatusConflict, "scene_final", "the login is already finished", 0},
	{scanlogin.ErrMatchMismatch, http.StatusConflict, "match_mismatch", "the number did not match; the login was cancelled", 0},
	{scanlogin.ErrMatchRequired, http.StatusBadRequest, "invalid_request", "match_code: required", 0},
	// Users, sessions and tokens.
	{scanlogin.ErrRefreshReused, http.StatusUnauthorized, "invalid_token", "the refresh token was already used; the session is revoked", 0},
	{scanlogin.ErrInvalidToken, http.StatusUnauthorized, "invalid_token", "the token is invalid or expired", 0},
	{errBadToken, http.StatusUnauthorized, "invalid_token", "the token is invalid or expired", 0},
	{scanlogin.ErrSessionNotFound, http.StatusUnauthorized, "invalid_token", "the session has ended", 0},
	{scanlogin.ErrUserNotFound, http.StatusUnauthorized, "invalid_token", "the user no longer exists", 0},
	// WeChat (docs/ARCHITECTURE.md#errors).
	{wxapi.ErrInvalidCode, http.StatusUnauthorized, "invalid_code", "the WeChat login code is invalid or expired", 0},
	{wxapi.ErrCodeUsed, http.StatusUnauthorized, "invalid_code", "the WeChat login code was already used", 0},
	{wxapi.ErrMinuteQuota, http.StatusTooManyRequests, "rate_limited", "WeChat frequency limit reached, retry later", 60 * time.Second},
	{wxapi.ErrRiskyUser, http.StatusForbidden, "wechat_denied", "WeChat refused this login", 0},
	{wxapi.ErrBadData, http.StatusBadRequest, "invalid_request", "encrypted_data, iv, raw_data or signature could not be verified", 0},
	// Everything else from WeChat (busy, timeouts, quota, token trouble) is
	// "try again later"; no WeChat text reaches the client.
	{wxapi.ErrSystemBusy, http.StatusBadGateway, "wechat_unavailable", "WeChat is unavailable, retry later", 5 * time.Second},
	{wxapi.ErrUnavailable, http.StatusBadGateway, "wechat_unavailable", "WeChat is unavailable, retry later", 5 * time.Second},
	// Redis. A redeem that failed after spending its scene is not "retry
	// later" (no Retry-After) but "start again"; it is matched first, as its
	// cause may be a Redis failure.
	{scanlogin.ErrRedeemFailed, http.StatusInternalServerError, "internal", "the login could not be completed; get a new code", 0},
	{scanlogin.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "the service is temporarily unavailable, retry later", 2 * time.Second},
	// This instance had more work than it could get to Redis or the
	// database in time (or the database more than it could answer in time);
	// the store answers, and another instance may too (docs/ARCHITECTURE.md).
	{scanlogin.ErrOverloaded, http.StatusServiceUnavailable, codeOverloaded, "the server is busy, retry shortly", time.Second},
}

// statusClientClosed is nginx's 499, for metrics and logs only.
const statusClientClosed = 499

var errInternal = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}

// errorFor maps any error to the *Error that is sent. Unknown errors are
// 500 with a fixed message: internal text never reaches a client.
func errorFor(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var le *scanlogin.LimitError
	if errors.As(err, &le) {
		e := *errRateLimited
		e.RetryAfter, e.cause = le.RetryAfter, err
		return &e
	}
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			return &Error{Status: row.status, Code: row.code, Message: row.message, RetryAfter: row.retryAfter, cause: err}
		}
	}
	if errors.Is(err, context.Canceled) {
		// The client hung up; nobody reads the answer.
		return &Error{Status: statusClientClosed, Code: "client_closed", Message: "client closed the request", cause: err}
	}
	var wxErr *wxapi.Error
	if errors.As(err, &wxErr) {
		return &Error{Status: http.StatusBadGateway, Code: "wechat_unavailable", Message: "WeChat is unavailable, retry later", RetryAfter: 5 * time.Second, cause: err}
	}
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return errTooLarge
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return &Error{Status: he.Code, Code: "not_found", Message: "no such endpoint"}
		case http.StatusMethodNotAllowed:
			return &Error{Status: he.Code, Code: "method_not_allowed", Message: "method not allowed"}
		case http.StatusRequestEntityTooLarge:
			return errTooLarge
		}
		if he.Code < 500 {
			return &Error{Status: he.Code, Code: "invalid_request", Message: http.StatusText(he.Code)}
		}
	}
	if isRedisDown(err) {
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the service is temporarily unavailable, retry later", RetryAfter: 2 * time.Second, cause: err}
	}
	return &Error{Status: errInternal.Status, Code: errInternal.Code, Message: errInternal.Message, cause: err}
}

// isRedisDown recognises connection-level failures that reach the handler
// unclassified (the engine's and the limiter's Redis errors are
// scanlogin.ErrUnavailable or ErrOverloaded already): network errors and
// timeouts.
func isRedisDown(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
}

// retryAfterSeconds is d in whole seconds, rounded up, for Retry-After.
func retryAfterSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// handleError is Echo's HTTPErrorHandler: the only writer of error bodies.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := errorFor(err)
	if e.Status == statusClientClosed {
		s.log.Debug("client closed the request", "request_id", requestID(c), "route", c.Path())
		return
	}
	log := s.log.With("request_id", requestID(c), "route", c.Path(), "status", e.Status, "error_code", e.Code)
	switch {
	case e == errShed:
		// Counted, and logged once per interval, by admission control.
	case e.Status >= 500:
		log.Error("request failed", "err", err)
	case e.Code == "already_redeemed":
		log.Warn("security: second redeem of a scene", "scene", c.Param("scene"), "ip", c.RealIP())
	default:
		log.Debug("request refused", "err", err)
	}
	if e.Status == http.StatusUnauthorized && e.Code != "invalid_code" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	// No error is worth caching, and state, redeem and session errors must
	// not be (docs/ARCHITECTURE.md#errors).
	noStore(c)
	if e.Code == codeOverloaded && e != errShed {
		s.metrics.overloaded.WithLabelValues(routeLabel(c)).Inc()
	}
	if e.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.RetryAfter)))
	}
	body := errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(e.Status)
		return
	}
	if werr := c.JSON(e.Status, body); werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
}
