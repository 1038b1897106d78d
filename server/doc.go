// Package server is the HTTP layer of scanlogin (Echo v4): the API of
// README.md for browsers, the mini-program and web sessions, and the
// operations endpoints.
//
// It owns routing (routes.go lists every route), the middleware chain (Echo's
// own request logger, recover, secure headers and CORS, plus a request id
// and the body limit), the one table that turns domain and WeChat errors
// into statuses and error bodies (errors.go), request decoding, access
// tokens (Ed25519 JWTs) and the JWKS, the session cookie and its Origin
// check, Redis-backed rate limits, Prometheus metrics, the OpenAPI document,
// and access and audit logs with a redacting slog handler. The long poll is
// a handler like the others: it calls the engine's Wait and writes JSON.
//
// It builds nothing it depends on: cmd/scanlogin/app (the composition root)
// builds the engine, the WeChat client, the token issuer, the limiter, the
// metrics and, in dev mode, the fake WeChat, which arrives as a plain
// http.Handler (Options.DevWeChat) mounted at /dev/wechat/ beside the phone
// simulator of package web. Handlers hand verified identities (an OpenID
// from wxapi, a user ID from a token) to package scanlogin and turn its
// answers into JSON. The domain and the WeChat client know nothing of this
// package, of HTTP or of Echo; nothing here reads the environment or
// global state.
package server
