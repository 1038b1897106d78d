package oidcop

import (
	"net/http"
	"strconv"
)

var msgBusy = msg{"服务繁忙，请稍后重试。", "The service is busy. Please try again shortly."}

// Busy answers a request that the server is too busy to take
// (docs/ARCHITECTURE.md#overload), in the shape of the endpoint, with
// Retry-After: at the endpoints a browser is sent to, a page; at those a
// client's back end or script calls, OAuth's temporarily_unavailable.
func (p *Provider) Busy(w http.ResponseWriter, r *http.Request, retryAfterSeconds int) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	switch r.URL.Path {
	case PathToken, PathUserinfo, PathRevoke, PathIntrospect, PathLoginInfo, PathDiscovery:
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "the server is busy, try again shortly"})
		return
	}
	title := "Service busy"
	if isZh(r) {
		title = "服务繁忙"
	}
	p.renderPage(w, r, http.StatusServiceUnavailable, title, msgBusy, "")
}
