// Package wxapi is the client for the WeChat server APIs that scan-login
// needs: code2Session, the access token (stable_token, shared by every
// instance through Redis and fetched by one of them at a time),
// getwxacodeunlimit, the phone number, checksession, msg_sec_check, and the
// decryption and signature checks of open data.
//
// Every WeChat errcode answer comes back as a *Error that errors.Is matches
// against the sentinels (ErrInvalidCode, ErrTokenInvalid, ...); the decision
// is always made on errcode, never on errmsg, which carries a changing request
// id. Transport failures that outlive the retries match ErrUnavailable.
//
// It knows nothing of scenes, users or HTTP servers: callers get an OpenID
// from it and decide what it means. Secrets, codes, tokens and session keys
// are never logged and never appear in error texts.
package wxapi
