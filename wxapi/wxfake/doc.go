// Package wxfake is a fake WeChat server, for tests and for dev mode, where
// it ships in the scanlogin binary and is mounted at /dev/wechat/: the
// endpoints the wxapi client calls, behaving as the WeChat fact sheet says
// (single-use codes that expire, the stable_token state machine, access token
// checks, getwxacodeunlimit validation returning a real QR PNG labelled
// image/jpeg, phone-number codes, checksession signatures, msg_sec_check with
// a blocked-word list, JSON errors with
// HTTP 200 and a changing " rid: ..." suffix), plus hooks that real WeChat
// does not have: minting login and phone codes, expiring every token, fault
// injection per endpoint and call counters.
//
// Its state lives in Redis when Options.Redis is set, so several fakes (one
// per dev-mode instance) agree on codes and tokens; otherwise in an
// in-process miniredis, so both modes run the same code.
//
// It must not know scanlogin or the server, and only cmd/scanlogin and
// tests may import it (the import-arrow test in server/api_test.go). One
// file per WeChat API family: auth.go, token.go, qrcode.go, phone.go,
// seccheck.go; hooks.go holds the test hooks, wechat.go what they share.
package wxfake
