package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Body limits (docs/ARCHITECTURE.md#limits).
const (
	maxBody       = 64 << 10
	maxAvatar     = 2 << 20
	maxAvatarBody = maxAvatar + 64<<10 // room for the multipart framing
)

// bodyLimit caps a request body: 64 KiB, or a little over 2 MiB on the
// avatar upload. A declared Content-Length over the limit is refused before
// reading; a body that grows past it fails the read with 413. (Echo's
// BodyLimit has one limit for all routes, and its reader's error is not
// the *http.MaxBytesError that decodeJSON and the multipart parser know.)
func bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := int64(maxBody)
		if c.Path() == routeAvatarUpload {
			limit = maxAvatarBody
		}
		req := c.Request()
		if req.ContentLength > limit {
			return errTooLarge
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		return next(c)
	}
}

// decodeJSON reads the request body into v. Unknown fields are ignored
// (docs/ARCHITECTURE.md#limits); an empty body leaves v as it is, so optional bodies may be
// omitted; anything else that is not one JSON object of the right types is
// a 400 invalid_request that names the field. A body that is not declared
// application/json is a 415 unsupported_media_type.
func decodeJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return invalidRequest("the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	// A cross-site HTML form can send JSON-looking text/plain without a
	// CORS preflight; application/json it cannot (login CSRF).
	if mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEApplicationJSON {
		return errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return invalidRequest("the body must be a single JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidRequest("the body must be a single JSON object")
	}
	return strictJSON(body, v)
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return invalidRequest("the body must be a JSON object")
		}
		return invalidRequest("%s: must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		return invalidRequest("malformed JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalidRequest("malformed JSON: unexpected end")
	default:
		return invalidRequest("malformed JSON")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// bearer returns the token of an "Authorization: Bearer <token>" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get(echo.HeaderAuthorization)
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// noStore marks a response that carries secrets or live state.
func noStore(c echo.Context) {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	c.Response().Header().Set("Pragma", "no-cache")
}

// required returns a 400 naming field when value is empty.
func required(field, value string) error {
	if value == "" {
		return invalidRequest("%s: required", field)
	}
	return nil
}

// seconds rounds d up to whole seconds, for expires_in fields.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
