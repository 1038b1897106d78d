package server

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// numericDateClaims are the registered claims RFC 7519 §2 defines as a
// NumericDate: a JSON number. golang-jwt's NumericDate also decodes a string
// of digits ("exp": "1700000000"); a token that says so was not made by us,
// so it is refused (docs/ARCHITECTURE.md#security).
var numericDateClaims = []string{"exp", "iat", "nbf"}

// UnmarshalJSON decodes the claims after checking that every NumericDate
// claim present is a JSON number (null counts as absent, and exp is
// required by Verify anyway).
func (c *accessClaims) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	for _, name := range numericDateClaims {
		v, ok := raw[name]
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		if len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9') {
			if string(v) == "null" {
				continue
			}
			return fmt.Errorf("claim %s: a NumericDate must be a JSON number", name)
		}
	}
	type plain accessClaims // no UnmarshalJSON: no recursion
	return json.Unmarshal(data, (*plain)(c))
}
