// Package server is the HTTP layer of scanlogin (Echo v4): the API of SPEC
// §4 for browsers, the mini-program and web sessions, and the operations
// endpoints.
//
// It owns routing (routes.go lists every route), the one table that turns
// domain and WeChat errors into statuses and SPEC error bodies (errors.go),
// request decoding and body limits, access tokens (Ed25519 JWTs) and the
// JWKS, the session cookie and its Origin check, Redis-backed rate limits,
// Prometheus metrics, the OpenAPI document, access and audit logs with a
// redacting slog handler, and dev mode: the fake WeChat of wxapi/wxapitest
// mounted at /dev/wechat/ and the phone simulator of package web. It also
// owns how thousands of long polls sleep cheaply: over HTTP/2 in their
// handlers, over HTTP/1.1 parked off net/http (park.go).
//
// Handlers hand verified identities (an OpenID from wxapi, a user ID from a
// token) to package scanlogin and turn its answers into JSON. The domain and
// the WeChat client know nothing of this package, of HTTP or of Echo.
// Configuration arrives as a Config, parsed from the environment by
// cmd/scanlogin; nothing here reads the environment or global state.
package server
