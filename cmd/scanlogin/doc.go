// Command scanlogin runs the scanlogin server.
//
// With no configuration at all it runs the full demo: an embedded Redis, the
// fake WeChat at /dev/wechat/, an ephemeral signing key, and a log line with
// the URL to open. With SCANLOGIN_WECHAT_APPID and SCANLOGIN_WECHAT_SECRET it
// talks to WeChat and needs SCANLOGIN_REDIS_URL, SCANLOGIN_SIGNING_KEY_FILE
// and SCANLOGIN_SESSION_KEY_SECRET. Every setting is an environment variable
// (see config.go); secrets may be given as NAME_FILE.
//
// main only calls run, which owns the whole lifecycle and returns an error,
// so tests can start and stop the real program in-process. Package app
// (cmd/scanlogin/app) is the composition root run uses: it builds every
// dependency and hands them to server.New.
package main
