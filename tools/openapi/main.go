// Command openapi prints scanlogin's OpenAPI document (as served at
// /openapi.json by a dev-mode server, so with the dev routes) for the
// Redocly lint that ./scripts/test runs (tools/openapi/package.json). The
// OpenID provider's endpoints are left out: the OpenID Connect and OAuth 2.0
// standards describe them, and server/openapi.go only lists them.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/scanlogin/scanlogin/server"
)

func main() {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(server.OpenAPIDocument("http://localhost:8080", true, nil)); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}
