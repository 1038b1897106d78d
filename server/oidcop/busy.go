package oidcop

import (
	"net/http"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

var msgBusy = msg{"服务繁忙，请稍后重试。", "The service is busy. Please try again shortly."}

// Busy answers a request that the server is too busy to take
// (docs/ARCHITECTURE.md#overload), in the shape of the endpoint, with
// Retry-After: at the endpoints a client's back end or script calls,
// OAuth's temporarily_unavailable in JSON; at the authorization endpoint,
// a redirect back to the client with error=temporarily_unavailable and its
// state (RFC 6749 §4.1.2.1) when the request names a registered client, one
// of its registered redirect URIs and a response type it may use, else a
// page; at the other endpoints a browser is sent to, a page.
func (p *Provider) Busy(w http.ResponseWriter, r *http.Request, retryAfterSeconds int) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case PathToken, PathUserinfo, PathRevoke, PathIntrospect, PathLoginInfo, PathDiscovery:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "the server is busy, try again shortly"})
		return
	case PathAuthorize:
		if u, ok := p.busyRedirect(r); ok {
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
	}
	title := "Service busy"
	if isZh(r) {
		title = "服务繁忙"
	}
	p.renderPage(w, r, http.StatusServiceUnavailable, title, msgBusy, "")
}

// busyRedirect is where a refused authorization request goes back to its
// client, if it may: only where the library would send an error of a
// normal request (op.Authorize), so never to a URI the client has not
// registered. It reads the clients in memory only: it runs when the server
// is overloaded. The redirect is the library's own error redirect
// (op.AuthRequestError): 302, query or fragment by response_mode, state
// echoed, and no iss, which the provider does not advertise
// (authorization_response_iss_parameter_supported).
func (p *Provider) busyRedirect(r *http.Request) (string, bool) {
	ar, err := op.ParseAuthorizeRequest(r, p.op.Decoder())
	if err != nil || ar.ClientID == "" {
		return "", false
	}
	if ar.RequestParam != "" && p.op.RequestObjectSupported() {
		// The library would take the redirect URI from the signed request
		// object, which is not worth verifying for a refusal.
		return "", false
	}
	c, ok := p.clients.get(ar.ClientID)
	if !ok || op.ValidateAuthReqRedirectURI(c, ar.RedirectURI, ar.ResponseType) != nil ||
		op.ValidateAuthReqResponseType(c, ar.ResponseType) != nil {
		return "", false
	}
	e := &oidc.Error{ErrorType: "temporarily_unavailable", Description: "The server is busy. Try again shortly.", State: ar.State}
	u, err := op.AuthResponseURL(ar.RedirectURI, ar.ResponseType, ar.ResponseMode, e, p.op.Encoder())
	if err != nil {
		return "", false
	}
	return u, true
}
