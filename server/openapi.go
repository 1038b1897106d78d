package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/server/oidcop"
)

// The OpenAPI 3.1 description of the API, written by hand next to the
// routes; TestOpenAPICoversRoutes fails when a registered route is missing.

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func str(desc string) obj { return obj{"type": "string", "description": desc} }

func integer(desc string) obj { return obj{"type": "integer", "description": desc} }

func boolean(desc string) obj { return obj{"type": "boolean", "description": desc} }

func object(required []string, props obj) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func jsonBody(schema obj) obj {
	return obj{"content": obj{"application/json": obj{"schema": schema}}}
}

func ok(desc string, schema obj) obj {
	r := obj{"description": desc}
	if schema != nil {
		r["content"] = obj{"application/json": obj{"schema": schema}}
	}
	return r
}

// errs lists error answers by status; each carries the Error body.
func errs(statusCodes ...string) obj {
	out := obj{}
	for _, sc := range statusCodes {
		out[sc] = obj{"description": errorDescriptions[sc], "content": obj{"application/json": obj{"schema": ref("Error")}}}
	}
	return out
}

var errorDescriptions = map[string]string{
	"400": "invalid_request: malformed JSON, a field of the wrong type, a bad scene ID",
	"401": "invalid_poll_token, invalid_token or invalid_code",
	"403": "not_scanner, wechat_denied or forbidden_origin",
	"404": "scene_not_found, session_not_found or not_found",
	"409": "already_scanned, not_scanned, not_confirmed, already_redeemed, scene_final or match_mismatch",
	"410": "scene_expired",
	"413": "payload_too_large (64 KiB; avatars 2 MiB)",
	"415": "unsupported_media_type",
	"429": "rate_limited, with Retry-After",
	"502": "wechat_unavailable, with Retry-After",
	"503": "unavailable (Redis cannot be reached) or overloaded (this instance is too busy to reach a healthy Redis in time), with Retry-After",
}

func op(tag, summary string, security []obj, body obj, success map[string]obj, errorCodes ...string) obj {
	resp := errs(errorCodes...)
	for k, v := range success {
		resp[k] = v
	}
	o := obj{"tags": []string{tag}, "summary": summary, "responses": resp}
	if security != nil {
		o["security"] = security
	}
	if body != nil {
		o["requestBody"] = body
	}
	return o
}

var (
	pollAuth    = []obj{{"pollToken": []string{}}}
	mpAuth      = []obj{{"mpToken": []string{}}}
	mpOrCode    = []obj{{"mpToken": []string{}}, {}}
	sessionAuth = []obj{{"accessToken": []string{}}, {"sessionCookie": []string{}}}
	noAuth      = []obj{}
)

func sceneParamDoc() obj {
	return obj{"name": "scene", "in": "path", "required": true, "schema": obj{"type": "string", "pattern": "^[0-9a-f]{32}$"}}
}

func withParams(o obj, params ...obj) obj {
	o["parameters"] = params
	return o
}

func (s *Server) openAPIDoc() obj {
	phoneBody := jsonBody(object(nil, obj{"code": str("a fresh wx.login code, instead of the mp token")}))
	profileBody := jsonBody(object(nil, obj{"nickname": str("at most 64 characters"), "avatar_url": str("https, or an upload of this user (POST /api/v1/mp/me/avatar), which the save makes permanent")}))
	scene := sceneParamDoc()
	paths := obj{
		"/api/v1/qr": obj{"post": op("browser", "Create a login scene", noAuth, nil,
			map[string]obj{"201": ok("the scene; poll_token is shown only here", ref("NewScene"))}, "413", "429", "503")},
		"/api/v1/qr/{scene}": obj{"delete": withParams(op("browser", "Abandon a scene (the browser)", pollAuth, nil,
			map[string]obj{"200": ok("cancelled", ref("SceneResult"))}, "400", "401", "404", "409", "410", "503"), scene)},
		"/api/v1/qr/{scene}/image": obj{"get": withParams(op("browser", "The mini-program code of a scene", noAuth, nil,
			map[string]obj{"200": {"description": "image", "content": obj{"image/png": obj{}, "image/jpeg": obj{}}}}, "400", "404", "409", "410", "502", "503"), scene)},
		"/api/v1/qr/{scene}/link": obj{"get": withParams(op("browser", "Open in WeChat: the scene's URL Link (wxa/generate_urllink, one WeChat call per scene, cached for its life; rate-limited per IP like creation). JSON when Accept asks for application/json, otherwise a 302 to the link; a browser navigating (Accept: text/html) gets errors as a page", noAuth, nil,
			map[string]obj{
				"200": ok("the link", object([]string{"scene", "url_link"}, obj{"scene": str("32 lowercase hex"), "url_link": str("https://wxaurl.cn/...; opens the confirm page with scene=<scene>")})),
				"302": {"description": "Location: the URL Link"},
			}, "400", "404", "409", "410", "429", "502", "503"), scene)},
		"/api/v1/qr/{scene}/state": obj{"get": withParams(op("browser", "Long-poll the scene state", pollAuth, nil,
			map[string]obj{"200": ok("the state (Cache-Control: no-store)", ref("SceneState"))}, "400", "401", "404", "429", "503"),
			scene,
			obj{"name": "since", "in": "query", "schema": obj{"type": "integer"}, "description": "the version the browser has; absent = answer at once"},
			obj{"name": "wait", "in": "query", "schema": obj{"type": "integer", "default": 25, "maximum": 30}, "description": "seconds to wait for a change (clamped to 30)"})},
		"/api/v1/qr/{scene}/redeem": obj{"post": withParams(op("browser", "Redeem a confirmed scene for a web session", pollAuth, nil,
			map[string]obj{"200": ok("tokens and the session cookie (Cache-Control: no-store)", ref("Tokens"))}, "400", "401", "404", "409", "410", "503"), scene)},
		"/api/v1/qr/{scene}/scan": obj{"post": withParams(op("mini-program", "Scan a scene", mpOrCode, phoneBody,
			map[string]obj{"200": ok("scanned", ref("Scan"))}, "400", "401", "403", "404", "409", "410", "429", "502", "503"), scene)},
		"/api/v1/qr/{scene}/confirm": obj{"post": withParams(op("mini-program", "Confirm a scanned scene", mpOrCode,
			jsonBody(object(nil, obj{"code": str("a fresh wx.login code"), "match_code": str("the number picked (number match on)")})),
			map[string]obj{"200": ok("confirmed", ref("SceneResult"))}, "400", "401", "403", "404", "409", "410", "502", "503"), scene)},
		"/api/v1/qr/{scene}/cancel": obj{"post": withParams(op("mini-program", "Decline a scanned scene", mpOrCode, phoneBody,
			map[string]obj{"200": ok("cancelled", ref("SceneResult"))}, "400", "401", "403", "404", "409", "410", "502", "503"), scene)},
		"/api/v1/mp/login": obj{"post": op("mini-program", "Log in with a wx.login code", noAuth,
			jsonBody(object([]string{"code"}, obj{
				"code": str("from wx.login"), "encrypted_data": str("legacy getUserInfo"), "iv": str("legacy getUserInfo"),
				"raw_data": str("legacy getUserInfo"), "signature": str("legacy getUserInfo")})),
			map[string]obj{"200": ok("the mini-program token", ref("MPLogin"))}, "400", "401", "403", "413", "429", "502", "503")},
		"/api/v1/mp/me": obj{
			"get": op("mini-program", "The user (token check)", mpAuth, nil, map[string]obj{"200": ok("the user", ref("User"))}, "401", "503"),
			"put": op("mini-program", "Update nickname or avatar (the mini-program's method: wx.request cannot send PATCH)", mpAuth,
				profileBody, map[string]obj{"200": ok("the user", ref("User"))}, "400", "401", "413", "503"),
			"patch": op("mini-program", "Update nickname or avatar (as PUT, for other clients)", mpAuth,
				profileBody, map[string]obj{"200": ok("the user", ref("User"))}, "400", "401", "413", "503"),
		},
		"/api/v1/mp/me/avatar": obj{"post": op("mini-program", "Upload an avatar (PNG, JPEG or WebP by content, at most 2 MiB)", mpAuth,
			obj{"content": obj{"multipart/form-data": obj{"schema": object([]string{"file"}, obj{"file": obj{"type": "string", "format": "binary"}})}}},
			map[string]obj{"200": ok("its URL", object([]string{"avatar_url"}, obj{"avatar_url": str("served at /api/v1/avatars/{id}; deleted unless a profile save (PUT /api/v1/mp/me) names it within an hour")}))}, "400", "401", "413", "415", "503")},
		"/api/v1/mp/me/phone": obj{"post": op("mini-program", "Attach the phone number (getPhoneNumber code)", mpAuth,
			jsonBody(object([]string{"code"}, obj{"code": str("from the getPhoneNumber button")})),
			map[string]obj{"200": ok("masked number", object([]string{"phone_number"}, obj{"phone_number": str("masked except the last 4")}))}, "400", "401", "502", "503")},
		"/api/v1/mp/sessions": obj{"get": op("mini-program", "The user's live web sessions", mpAuth, nil,
			map[string]obj{"200": ok("sessions", ref("Sessions"))}, "401", "503")},
		"/api/v1/mp/sessions/{id}": obj{"delete": withParams(op("mini-program", "Revoke a web session", mpAuth, nil,
			map[string]obj{"204": {"description": "revoked"}}, "401", "404", "503"),
			obj{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string"}})},
		"/api/v1/avatars/{id}": obj{"get": withParams(op("mini-program", "An uploaded avatar (ETag: its SHA-256; cached for good)", noAuth, nil,
			map[string]obj{"200": {"description": "image", "content": obj{"image/png": obj{}, "image/jpeg": obj{}, "image/webp": obj{}}},
				"304": {"description": "not modified (If-None-Match)"}}, "404", "503"),
			obj{"name": "id", "in": "path", "required": true, "schema": obj{"type": "string"}})},
		"/api/v1/me": obj{"get": op("web session", "The signed-in user; the session must be alive", sessionAuth, nil,
			map[string]obj{"200": ok("the user", ref("User"))}, "401", "503")},
		"/api/v1/session/refresh": obj{"post": op("web session", "Rotate the refresh token", noAuth,
			jsonBody(object([]string{"refresh_token"}, obj{"refresh_token": str("works once; a spent one revokes the session")})),
			map[string]obj{"200": ok("new tokens (Cache-Control: no-store)", ref("Tokens"))}, "400", "401", "503")},
		"/api/v1/session/logout": obj{"post": op("web session", "End the session", sessionAuth, nil,
			map[string]obj{"204": {"description": "logged out"}}, "401", "403", "503")},
		"/.well-known/jwks.json": obj{"get": op("web session", "Public keys: Ed25519 (OKP) of access tokens and EdDSA ID tokens, RSA of RS256 ID tokens", noAuth, nil,
			map[string]obj{"200": ok("JWKS", ref("JWKS"))})},
		"/api/v1/config": obj{"get": op("pages", "Public settings for the pages", noAuth, nil,
			map[string]obj{"200": ok("settings", object(nil, obj{"site_name": str(""), "number_match": boolean(""), "dev_mode": boolean("")}))})},
		"/healthz":      obj{"get": op("operations", "The process is alive", noAuth, nil, map[string]obj{"200": {"description": "alive"}})},
		"/readyz":       obj{"get": op("operations", "Redis and the database reachable and not shutting down", noAuth, nil, map[string]obj{"200": {"description": "ready"}, "503": {"description": "not ready"}})},
		"/metrics":      obj{"get": op("operations", "Prometheus metrics", noAuth, nil, map[string]obj{"200": {"description": "text exposition format", "content": obj{"text/plain": obj{}}}})},
		"/openapi.json": obj{"get": op("operations", "This document", noAuth, nil, map[string]obj{"200": {"description": "OpenAPI 3.1"}})},
		"/":             obj{"get": op("pages", "The login page", noAuth, nil, map[string]obj{"200": {"description": "HTML", "content": obj{"text/html": obj{}}}})},
		"/scanlogin.js": obj{"get": op("pages", "The embeddable widget", noAuth, nil, map[string]obj{"200": {"description": "JavaScript", "content": obj{"text/javascript": obj{}}}})},
		"/static/{path}": obj{"get": withParams(op("pages", "Static files of the pages", noAuth, nil, map[string]obj{"200": {"description": "file"}}, "404"),
			obj{"name": "path", "in": "path", "required": true, "schema": obj{"type": "string"}})},
	}
	if s.opts.DevWeChat != nil {
		paths["/dev/wechat/{path}"] = obj{"post": withParams(op("dev", "Dev mode: the fake WeChat (login and phonecode hooks, WeChat's own paths)", noAuth,
			jsonBody(object(nil, obj{"openid": str(""), "nickname": str(""), "phone_number": str("")})),
			map[string]obj{"200": ok("for /dev/wechat/login and /dev/wechat/phonecode", object(nil, obj{"code": str("")}))}),
			obj{"name": "path", "in": "path", "required": true, "schema": obj{"type": "string"}})}
		paths["/dev/phone"] = obj{"get": withParams(op("dev", "Dev mode: the phone simulator", noAuth, nil, map[string]obj{"200": {"description": "HTML"}}),
			obj{"name": "scene", "in": "query", "schema": obj{"type": "string"}})}
	}
	if s.opts.OIDC != nil {
		addOIDCPaths(paths, s.opts.OIDC.Routes())
	}
	user := object([]string{"id", "nickname", "avatar_url", "has_phone"}, obj{
		"id": str(""), "nickname": str(""), "avatar_url": str(""), "has_phone": boolean(""), "phone_number": str("masked except the last 4"),
	})
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":       "scanlogin",
			"version":     "1",
			"description": "Sign in to a website by scanning a WeChat mini-program code, and mini-program login.",
		},
		"servers": []obj{{"url": s.opts.PublicURL}},
		"paths":   paths,
		"components": obj{
			"securitySchemes": obj{
				"pollToken":     obj{"type": "http", "scheme": "bearer", "description": "the poll_token of POST /api/v1/qr"},
				"mpToken":       obj{"type": "http", "scheme": "bearer", "description": "the token of POST /api/v1/mp/login"},
				"accessToken":   obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
				"sessionCookie": obj{"type": "apiKey", "in": "cookie", "name": SessionCookie},
			},
			"schemas": obj{
				"Error": object([]string{"error"}, obj{"error": object([]string{"code", "message"}, obj{"code": str("machine-readable"), "message": str("human-readable")})}),
				"NewScene": object([]string{"scene", "poll_token", "qr_image_url", "match_code", "state", "version", "expires_at", "expires_in", "poll_wait"}, obj{
					"scene": str("32 lowercase hex"), "poll_token": str("secret of the browser"), "qr_image_url": str(""),
					"match_code": str("2 digits shown in the browser"), "number_match": boolean(""), "state": str("pending"),
					"version": integer("1"), "expires_at": obj{"type": "string", "format": "date-time"}, "expires_in": integer("seconds"),
					"poll_wait": integer("recommended wait for the state poll, seconds"),
				}),
				"SceneState": object([]string{"scene", "state", "version", "expires_in"}, obj{
					"scene": str(""), "state": obj{"type": "string", "enum": []string{"pending", "scanned", "confirmed", "redeemed", "cancelled", "expired"}},
					"version": integer(""), "expires_in": integer("seconds"),
					"scanned_by": object(nil, obj{"nickname": str(""), "avatar_url": str("")}),
				}),
				"SceneResult": object([]string{"scene", "state"}, obj{"scene": str(""), "state": str("")}),
				"Scan": object([]string{"scene", "state", "expires_in", "browser", "site"}, obj{
					"scene": str(""), "state": str("scanned"), "expires_in": integer("seconds"),
					"browser": object([]string{"ip", "user_agent", "label", "created_at"}, obj{
						"ip": str("the browser that created the scene"), "user_agent": str("as the browser sent it"),
						"label":      str(`what to show a person, e.g. "Chrome 124 · Windows 10/11"; "" when unknown`),
						"created_at": obj{"type": "string", "format": "date-time"},
					}),
					"match_choices": obj{"type": "array", "items": obj{"type": "string"}, "description": "3 codes, number match on"},
					"site":          object(nil, obj{"name": str("")}),
				}),
				"Tokens": object([]string{"access_token", "token_type", "expires_in", "refresh_token"}, obj{
					"access_token": str("JWT, EdDSA"), "token_type": str("Bearer"), "expires_in": integer("seconds"), "refresh_token": str("works once"),
					"user": object(nil, obj{"id": str(""), "nickname": str(""), "avatar_url": str("")}),
				}),
				"MPLogin": object([]string{"token", "expires_in", "is_new_user", "user"}, obj{
					"token": str(""), "expires_in": integer("seconds"), "is_new_user": boolean(""), "user": ref("User"),
				}),
				"User": user,
				"Sessions": object([]string{"sessions"}, obj{"sessions": obj{"type": "array", "items": object(nil, obj{
					"id": str(""), "created_at": obj{"type": "string", "format": "date-time"}, "last_seen_at": obj{"type": "string", "format": "date-time"},
					"ip": str(""), "user_agent": str(""), "label": str(`what to show a person, e.g. "Safari 17 · iOS 17"; "" when unknown`),
				})}}),
				"JWKS": object([]string{"keys"}, obj{"keys": obj{"type": "array", "items": object(nil, obj{
					"kty": str("OKP (Ed25519) or RSA"), "crv": str("Ed25519 (OKP)"), "x": str("OKP"), "n": str("RSA"), "e": str("RSA"),
					"kid": str(""), "use": str("sig"), "alg": str("EdDSA or RS256"),
				})}}),
			},
		},
	}
}

// openAPI is GET /openapi.json.
func (s *Server) openAPI(c echo.Context) error {
	return c.JSON(http.StatusOK, s.openAPIDoc())
}

// oidcSummaries describe the OpenID provider's endpoints (docs/OIDC.md);
// they speak OAuth 2.0 and OpenID Connect, whose error shape
// ({"error", "error_description"}) and redirects their standards fix.
var oidcSummaries = map[string]string{
	oidcop.PathDiscovery:          "OpenID Connect discovery: every endpoint, algorithm and claim",
	oidcop.PathAuthorize:          "Authorization endpoint (response_type=code, PKCE S256); sends the browser to the scan page unless it has a session",
	oidcop.PathCallback:           "Where a completed sign-in returns the browser to the client's redirect_uri with code and state",
	oidcop.PathToken:              "Token endpoint: authorization_code (PKCE) and refresh_token (rotating; reuse ends the session)",
	oidcop.PathUserinfo:           "UserInfo: the claims of the access token's scopes",
	oidcop.PathRevoke:             "Token revocation (RFC 7009)",
	oidcop.PathIntrospect:         "Token introspection (RFC 7662) for clients",
	oidcop.PathEndSession:         "RP-initiated logout: id_token_hint, registered post_logout_redirect_uri, state; tells every client (back-channel)",
	oidcop.PathLogin:              "The login step of an authorization request: single sign-on, or the scan page",
	oidcop.PathLoginInfo:          "For the scan page: the application an authorization request signs in to",
	oidcop.PathLoggedOut:          "Signed-out page",
	oidcop.PathDevRP:              "Dev mode: the demo OpenID Connect client",
	oidcop.PathDevRP + "callback": "Dev mode: the demo client's redirect URI",
}

func addOIDCPaths(paths obj, routes []oidcop.Route) {
	for _, r := range routes {
		item, _ := paths[r.Path].(obj)
		if item == nil {
			item = obj{}
			paths[r.Path] = item
		}
		tag := "openid connect"
		if strings.HasPrefix(r.Path, "/dev/") {
			tag = "dev"
		}
		item[strings.ToLower(r.Method)] = obj{"tags": []string{tag}, "summary": oidcSummaries[r.Path],
			"responses": obj{"200": obj{"description": "as OpenID Connect specifies"}, "302": obj{"description": "a redirect"},
				"400": obj{"description": "an OAuth 2.0 error, or a page when no registered redirect URI can take it"}}}
	}
}
