package server

import (
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RFC 7519 §2: a NumericDate is a JSON number. golang-jwt decodes a string
// holding digits too; we refuse it, for exp, iat and nbf alike.
func TestJWTNumericDateMustBeANumber(t *testing.T) {
	ti := testIssuer(t)
	key := ti.keys[0]
	now := time.Now()
	for _, claim := range []string{"exp", "iat", "nbf"} {
		var v int64
		switch claim {
		case "exp":
			v = now.Add(10 * time.Minute).Unix()
		default:
			v = now.Add(-time.Minute).Unix()
		}
		asNumber := forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(goodClaims(), claim, v))
		if _, err := ti.Verify(asNumber); err != nil {
			t.Fatalf("%s as a number refused: %v", claim, err)
		}
		asString := forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(goodClaims(), claim, strconv.FormatInt(v, 10)))
		if _, err := ti.Verify(asString); err == nil {
			t.Errorf("%s as a JSON string accepted", claim)
		}
	}
	for _, bad := range []any{true, nil, []int{1}, map[string]int{"a": 1}} {
		tok := forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with(goodClaims(), "exp", bad))
		if _, err := ti.Verify(tok); err == nil {
			t.Errorf("exp %v accepted", bad)
		}
	}
}
