// Package scanlogin is the domain of the product: login scenes and their state
// machine on Redis, waiting for a scene to change, users found by OpenID, web
// sessions with rotating refresh tokens, and mini-program login tokens.
//
// It knows nothing of HTTP, JWT or WeChat: callers hand it an OpenID that they
// have already verified and receive users, scenes and sessions.
package scanlogin
