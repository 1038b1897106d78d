// Package oidcop is scanlogin's OpenID Connect provider (docs/OIDC.md):
// discovery, an authorization endpoint whose login page is the scan-login
// page, the token endpoint (authorization code with PKCE, refresh tokens
// that are the engine's rotating session refresh tokens), UserInfo,
// RP-initiated logout, revocation and back-channel logout.
//
// The protocol is github.com/zitadel/oidc/v3/pkg/op; this package is what
// that library leaves to its host: the storage (authorization requests,
// codes and access tokens in Redis with short lifetimes, grants on the
// engine's web sessions), the clients (a YAML file, re-read on SIGHUP), the
// keys (RSA for ID tokens by default, the Ed25519 key per client), the
// login hand-off from the scan page, single sign-on, and back-channel
// logout delivery. It imports the domain (scanlogin) and nothing of
// package server, which mounts its handler.
package oidcop
