package wxapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// lenientInt decodes a JSON number, a numeric string or null. WeChat
// documents errcode as a number, but its docs print several "numbers" as
// strings and vice versa, so the decoder never fails on the quoting.
type lenientInt int

func (n *lenientInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
		if s == "" {
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("not an integer: %.40q", s)
		}
		v = int64(f)
	}
	if v < -1<<31 || v > 1<<31-1 {
		return fmt.Errorf("integer out of range: %d", v)
	}
	*n = lenientInt(v)
	return nil
}

// lenientString decodes a JSON string or a number into its text (phone_info's
// countryCode is documented as a string and printed as a number).
type lenientString string

func (s *lenientString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = lenientString(v)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return fmt.Errorf("neither string nor number")
	}
	*s = lenientString(num.String())
	return nil
}

type errorBody struct {
	Errcode lenientInt `json:"errcode"`
	Errmsg  string     `json:"errmsg"`
}

// looksJSON reports whether a WeChat answer is JSON: a body starting with
// "{" or a JSON content type (WeChat has sent "application/json;
// encoding=utf-8", "application/json:UTF-8" and "text/plain" for the same
// thing, so the body decides first).
func looksJSON(body []byte, contentType string) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	if len(t) > 0 && t[0] == '{' {
		return true
	}
	return strings.Contains(strings.ToLower(contentType), "json")
}

// decodeResponse decodes a WeChat JSON answer. A non-zero errcode becomes a
// *Error (an absent errcode is 0); otherwise, when out is not nil, the body
// is decoded into it. A body that is not a JSON object is an error matching
// ErrUnavailable: WeChat answered something unusable.
func decodeResponse(api string, body []byte, out any) error {
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		return fmt.Errorf("wxapi: %s: undecodable answer (%s): %w", api, describeJSONError(err), ErrUnavailable)
	}
	if eb.Errcode != 0 {
		return &Error{API: api, Code: int(eb.Errcode), Msg: eb.Errmsg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("wxapi: %s: undecodable answer (%s): %w", api, describeJSONError(err), ErrUnavailable)
	}
	return nil
}

// describeJSONError keeps the kind of a decoding error without echoing the
// body, which may hold a session key or a token.
func describeJSONError(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at offset %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q has JSON type %s", e.Field, e.Value)
	}
	return "invalid JSON"
}
