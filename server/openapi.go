package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/server/oidcop"
)

// The OpenAPI 3.1 description of the API, written by hand next to the
// routes. It is meant to be exact: every status a route can answer, every
// constraint the server enforces, response objects closed
// (additionalProperties: false). TestOpenAPICoversRoutes fails when a
// registered route is missing; TestOpenAPIContract replays real answers of
// every route against it with an independent validator; ./scripts/test
// lints it with Redocly (tools/openapi).

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func str(desc string) obj { return obj{"type": "string", "description": desc} }

func integer(desc string) obj { return obj{"type": "integer", "description": desc} }

func boolean(desc string) obj { return obj{"type": "boolean", "description": desc} }

func enum(desc string, values ...string) obj {
	return obj{"type": "string", "enum": values, "description": desc}
}

func dateTime(desc string) obj {
	return obj{"type": "string", "format": "date-time", "description": desc}
}

// object is a request object: unknown members are ignored by the server
// (README.md), so the schema stays open.
func object(required []string, props obj) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// answer is a response object: exactly these members.
func answer(required []string, props obj) obj {
	o := object(required, props)
	o["additionalProperties"] = false
	return o
}

func jsonBody(schema obj) obj {
	return obj{"required": false, "content": obj{"application/json": obj{"schema": schema}},
		"description": "JSON, sent as application/json in valid UTF-8; an empty body counts as {}; null members are refused (400)"}
}

func ok(desc string, schema obj) obj {
	r := obj{"description": desc}
	if schema != nil {
		r["content"] = obj{"application/json": obj{"schema": schema}}
	}
	return r
}

func content(desc string, types ...string) obj {
	c := obj{}
	for _, t := range types {
		c[t] = obj{"schema": obj{"type": "string"}}
	}
	return obj{"description": desc, "content": c}
}

// retryAfter is the Retry-After header of 429, 502 and 503 answers.
var retryAfter = obj{"Retry-After": obj{"required": true, "description": "seconds to wait before retrying",
	"schema": obj{"type": "integer", "minimum": 1}}}

// errs lists error answers by status; each carries the Error body.
func errs(statusCodes ...string) obj {
	out := obj{}
	for _, sc := range statusCodes {
		r := obj{"description": errorDescriptions[sc], "content": obj{"application/json": obj{"schema": ref("Error")}}}
		switch sc {
		case "429", "502", "503":
			r["headers"] = retryAfter
		case "401":
			r["headers"] = obj{"WWW-Authenticate": obj{"description": `Bearer error="invalid_token" (not with invalid_code)`, "schema": obj{"type": "string"}}}
		}
		out[sc] = r
	}
	return out
}

var errorDescriptions = map[string]string{
	"400": "invalid_request: malformed JSON, invalid UTF-8, null for a member, a member of the wrong type, a bad parameter (the message names it)",
	"401": "invalid_poll_token, invalid_token or invalid_code",
	"403": "not_scanner, wechat_denied or forbidden_origin",
	"404": "scene_not_found, session_not_found or not_found",
	"409": "already_scanned, not_scanned, not_confirmed, already_redeemed, scene_final or match_mismatch",
	"410": "scene_expired",
	"413": "payload_too_large: a request body over 64 KiB (the avatar upload: 2 MiB), on any route",
	"415": "unsupported_media_type: a body not sent as application/json (the avatar: not a PNG, JPEG or WebP image)",
	"429": "rate_limited, with Retry-After",
	"500": "internal: a bug, or a redeem whose session could not be created (get a new code)",
	"502": "wechat_unavailable, with Retry-After",
	"503": "unavailable (Redis or the database cannot be reached) or overloaded (this instance is too busy: new work is refused first, docs/ARCHITECTURE.md#overload; or a call to a healthy Redis or database did not finish in time), with Retry-After",
}

// Statuses shared by groups of routes. Every route can answer 413 (the
// body limit runs before routing to a handler) and 500.
var (
	always   = []string{"413", "500"}
	withJSON = []string{"400", "415"} // routes that read a JSON body
	store    = []string{"503"}        // routes that use Redis
)

func op(tag, id, summary string, security []obj, body obj, success map[string]obj, errorCodes ...string) obj {
	codes := append(append([]string{}, always...), errorCodes...)
	resp := errs(codes...)
	for k, v := range success {
		resp[k] = v
	}
	o := obj{"tags": []string{tag}, "operationId": id, "summary": summary, "responses": resp}
	if security != nil {
		o["security"] = security
	}
	if body != nil {
		o["requestBody"] = body
	}
	return o
}

// headOf is the HEAD operation of a GET route: its status and headers, no
// body.
func headOf(id, summary string) obj {
	return op("operations", id, summary, noAuth, nil, map[string]obj{"200": {"description": "as the GET answers, without the body"}})
}

func codes(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

var (
	pollAuth    = []obj{{"pollToken": []string{}}}
	mpAuth      = []obj{{"mpToken": []string{}}}
	mpOrCode    = []obj{{"mpToken": []string{}}, {}}
	sessionAuth = []obj{{"accessToken": []string{}}, {"sessionCookie": []string{}}}
	noAuth      = []obj{}
)

func sceneParamDoc() obj {
	return obj{"name": "scene", "in": "path", "required": true, "description": "32 lowercase hexadecimal characters",
		"schema": obj{"type": "string", "pattern": "^[0-9a-f]{32}$"}}
}

func idParam(desc string) obj {
	return obj{"name": "id", "in": "path", "required": true, "description": desc, "schema": obj{"type": "string"}}
}

func withParams(o obj, params ...obj) obj {
	o["parameters"] = params
	return o
}

// options is the OPTIONS answer every path gives: 204 with Allow (and,
// for the origins of SCANLOGIN_ALLOWED_ORIGINS, the CORS preflight).
func options(id string) obj {
	return op("operations", id, "Allowed methods; CORS preflight", noAuth, nil,
		map[string]obj{"204": {"description": "the allowed methods", "headers": obj{"Allow": obj{"schema": obj{"type": "string"}}}}})
}

// OpenAPIDocument is the document served at /openapi.json for a server at
// publicURL; dev adds the dev-mode routes, oidc the OpenID provider's
// (described by the OpenID Connect and OAuth 2.0 standards, not here).
func OpenAPIDocument(publicURL string, dev bool, oidc []oidcop.Route) map[string]any {
	phoneBody := jsonBody(object(nil, obj{"code": str("a fresh wx.login code, instead of the mp token")}))
	profileBody := jsonBody(object(nil, obj{
		"nickname":   obj{"type": "string", "description": "at most 64 characters after NFC normalisation and trimming (so no maxLength here); control, invisible formatting (Cf) and line-break characters are refused; \"\" clears it"},
		"avatar_url": obj{"type": "string", "maxLength": 1024, "description": "an upload of this user (POST /api/v1/mp/me/avatar; relative or on the public URL), which the save makes permanent, or https on an allowed avatar host (SCANLOGIN_AVATAR_HOSTS); \"\" clears it"},
	}))
	scene := sceneParamDoc()
	stateCodes := codes(store, []string{"400", "401", "404", "409", "410"})
	phoneCodes := codes(store, withJSON, []string{"401", "403", "404", "409", "410", "429", "502"})
	paths := obj{
		"/api/v1/qr": obj{"post": op("browser", "createScene", "Create a login scene", noAuth, jsonBody(object(nil, obj{})),
			map[string]obj{"201": ok("the scene; poll_token is shown only here", ref("NewScene"))}, codes(store, withJSON, []string{"429"})...)},
		"/api/v1/qr/{scene}": obj{"delete": withParams(op("browser", "cancelScene", "Abandon a scene (the browser)", pollAuth, nil,
			map[string]obj{"200": ok("cancelled", ref("SceneResult"))}, stateCodes...), scene)},
		"/api/v1/qr/{scene}/image": obj{"get": withParams(op("browser", "sceneImage", "The mini-program code of a live scene (one WeChat call per scene); a final scene has none", noAuth, nil,
			map[string]obj{"200": content("the code", "image/png", "image/jpeg")}, codes(store, []string{"400", "404", "409", "410", "429", "502"})...), scene)},
		"/api/v1/qr/{scene}/link": obj{"get": withParams(linkErrorsAsPages(op("browser", "sceneLink", "Open in WeChat: the scene's URL Link (wxa/generate_urllink, one WeChat call per scene, cached for its life; rate-limited per IP like creation). JSON when Accept asks for application/json, otherwise a 302 to the link; a browser navigating (Accept: text/html) gets errors as a page", noAuth, nil,
			map[string]obj{
				"200": ok("the link", answer([]string{"scene", "url_link"}, obj{"scene": obj{"type": "string", "pattern": "^[0-9a-f]{32}$"}, "url_link": str("https://wxaurl.cn/...; opens the confirm page with scene=<scene>")})),
				"302": {"description": "Location: the URL Link", "headers": obj{"Location": obj{"required": true, "schema": obj{"type": "string"}}}},
			}, codes(store, []string{"400", "404", "409", "410", "429", "502"})...)), scene)},
		"/api/v1/qr/{scene}/state": obj{"get": withParams(op("browser", "sceneState", "Long-poll the scene state", pollAuth, nil,
			map[string]obj{"200": ok("the state (Cache-Control: no-store)", ref("SceneState"))}, codes(store, []string{"400", "401", "404", "429"})...),
			scene,
			obj{"name": "since", "in": "query", "schema": obj{"type": "integer", "minimum": 0, "format": "int64"},
				"description": "the version the browser has; absent = answer at once"},
			obj{"name": "wait", "in": "query", "schema": obj{"type": "integer", "default": 25, "minimum": 0, "maximum": 30},
				"description": "seconds to wait for a change; over 30 is refused (400), not clamped"})},
		"/api/v1/qr/{scene}/redeem": obj{"post": withParams(op("browser", "redeemScene", "Redeem a confirmed scene for a web session", pollAuth, jsonBody(object(nil, obj{})),
			map[string]obj{"200": ok("tokens and the session cookie (Cache-Control: no-store)", ref("Tokens"))}, codes(stateCodes, []string{"415"})...), scene)},
		"/api/v1/qr/{scene}/scan": obj{"post": withParams(op("mini-program", "scanScene", "Scan a scene", mpOrCode, phoneBody,
			map[string]obj{"200": ok("scanned", ref("Scan"))}, phoneCodes...), scene)},
		"/api/v1/qr/{scene}/confirm": obj{"post": withParams(op("mini-program", "confirmScene", "Confirm a scanned scene", mpOrCode,
			jsonBody(object(nil, obj{"code": str("a fresh wx.login code"), "match_code": str("the number picked (number match on; required then)")})),
			map[string]obj{"200": ok("confirmed", ref("SceneResult"))}, phoneCodes...), scene)},
		"/api/v1/qr/{scene}/cancel": obj{"post": withParams(op("mini-program", "declineScene", "Decline a scanned scene", mpOrCode, phoneBody,
			map[string]obj{"200": ok("cancelled", ref("SceneResult"))}, phoneCodes...), scene)},
		"/api/v1/mp/login": obj{"post": op("mini-program", "mpLogin", "Log in with a wx.login code", noAuth,
			jsonBody(object([]string{"code"}, obj{
				"code": obj{"type": "string", "minLength": 1, "description": "from wx.login"}, "encrypted_data": str("legacy getUserInfo; with iv"), "iv": str("legacy getUserInfo; with encrypted_data"),
				"raw_data": str("legacy getUserInfo; with signature"), "signature": str("legacy getUserInfo; with raw_data")})),
			map[string]obj{"200": ok("the mini-program token", ref("MPLogin"))}, codes(store, withJSON, []string{"401", "403", "429", "502"})...)},
		"/api/v1/mp/me": obj{
			"get": op("mini-program", "mpMe", "The user (token check)", mpAuth, nil, map[string]obj{"200": ok("the user", ref("User"))}, codes(store, []string{"401"})...),
			"put": op("mini-program", "mpPutMe", "Update nickname or avatar (the mini-program's method: wx.request cannot send PATCH); an absent member is left as it is", mpAuth,
				profileBody, map[string]obj{"200": ok("the user", ref("User"))}, codes(store, withJSON, []string{"401"})...),
			"patch": op("mini-program", "mpUpdateMe", "Update nickname or avatar (as PUT, for other clients); an absent member is left as it is", mpAuth,
				profileBody, map[string]obj{"200": ok("the user", ref("User"))}, codes(store, withJSON, []string{"401"})...),
		},
		"/api/v1/mp/me/avatar": obj{"post": op("mini-program", "mpAvatar", "Upload an avatar: PNG, JPEG or WebP by content, at most 2 MiB and 4096×4096; stored re-encoded (PNG or JPEG, at most 512 px, no metadata)", mpAuth,
			obj{"required": true, "content": obj{"multipart/form-data": obj{"schema": object([]string{"file"}, obj{"file": obj{"type": "string", "format": "binary"}})}}},
			map[string]obj{"200": ok("its URL", answer([]string{"avatar_url"}, obj{"avatar_url": str("absolute, served at /api/v1/avatars/{id}; deleted unless a profile save (PUT /api/v1/mp/me) names it within an hour")}))}, codes(store, []string{"400", "401", "415"})...)},
		"/api/v1/mp/me/phone": obj{"post": op("mini-program", "mpPhone", "Attach the phone number (getPhoneNumber code)", mpAuth,
			jsonBody(object([]string{"code"}, obj{"code": obj{"type": "string", "minLength": 1, "description": "from the getPhoneNumber button"}})),
			map[string]obj{"200": ok("masked number", answer([]string{"phone_number"}, obj{"phone_number": str("masked except the last 4")}))}, codes(store, withJSON, []string{"401", "403", "429", "502"})...)},
		"/api/v1/mp/sessions": obj{"get": op("mini-program", "mpSessions", "The user's live web sessions", mpAuth, nil,
			map[string]obj{"200": ok("sessions", ref("Sessions"))}, codes(store, []string{"401"})...)},
		"/api/v1/mp/sessions/{id}": obj{"delete": withParams(op("mini-program", "mpRevokeSession", "Revoke a web session", mpAuth, nil,
			map[string]obj{"204": {"description": "revoked"}}, codes(store, []string{"401", "404"})...), idParam("the session ID"))},
		"/api/v1/avatars/{id}": obj{"get": withParams(op("mini-program", "avatar", "An uploaded avatar", noAuth, nil,
			map[string]obj{"200": withETag(content("image (ETag: its SHA-256; Cache-Control: public, max-age=31536000, immutable)", "image/png", "image/jpeg", "image/webp")),
				"304": withETag(obj{"description": "not modified (If-None-Match)"})}, codes(store, []string{"404"})...), idParam("the avatar ID"))},
		"/api/v1/me": obj{"get": op("web session", "me", "The signed-in user; the session must be alive", sessionAuth, nil,
			map[string]obj{"200": ok("the user", ref("User"))}, codes(store, []string{"401", "403"})...)},
		"/api/v1/session/refresh": obj{"post": op("web session", "refreshSession", "Rotate the refresh token", noAuth,
			jsonBody(object([]string{"refresh_token"}, obj{"refresh_token": obj{"type": "string", "minLength": 1,
				"description": "works once; presented again within 10 s of its rotation it gets the same successor, later it revokes the session"}})),
			map[string]obj{"200": ok("new tokens (Cache-Control: no-store)", ref("Tokens"))}, codes(store, withJSON, []string{"401", "403"})...)},
		"/api/v1/session/logout": obj{"post": op("web session", "logout", "End the session", sessionAuth, nil,
			map[string]obj{"204": {"description": "logged out"}}, codes(store, []string{"401", "403"})...)},
		"/.well-known/jwks.json": obj{"get": op("web session", "jwks", "Public keys: Ed25519 (OKP) of access tokens and EdDSA ID tokens, RSA of RS256 ID tokens", noAuth, nil,
			map[string]obj{"200": ok("JWKS", ref("JWKS"))})},
		"/api/v1/config": obj{"get": op("pages", "publicConfig", "Public settings for the pages", noAuth, nil,
			map[string]obj{"200": ok("settings", answer([]string{"site_name", "number_match", "dev_mode"}, obj{"site_name": str(""), "number_match": boolean(""), "dev_mode": boolean("")}))})},
		"/healthz": obj{"get": op("operations", "healthz", "The process is alive", noAuth, nil,
			map[string]obj{"200": ok("alive", answer([]string{"status"}, obj{"status": enum("", "ok")}))}),
			"head": headOf("healthzHead", "The process is alive (for monitors that probe with HEAD)")},
		"/readyz": obj{"get": op("operations", "readyz", "Redis reachable and not shutting down; the database's state is reported, not required", noAuth, nil, map[string]obj{
			"200": ok("ready", answer([]string{"status", "database"}, obj{"status": enum("", "ready"), "database": enum("", "ok", "unavailable", "overloaded")})),
			"503": {"description": "not ready", "headers": obj{"Retry-After": obj{"description": "seconds; absent while shutting down", "schema": obj{"type": "integer", "minimum": 1}}},
				"content": obj{"application/json": obj{"schema": answer([]string{"status"}, obj{"status": enum("", "redis unavailable", "overloaded", "shutting down")})}}},
		}), "head": headOf("readyzHead", "Ready, as GET /readyz answers, without the body")},
		"/metrics":      obj{"get": op("operations", "metrics", "Prometheus metrics", noAuth, nil, map[string]obj{"200": content("text exposition format", "text/plain")})},
		"/openapi.json": obj{"get": op("operations", "openapi", "This document", noAuth, nil, map[string]obj{"200": ok("OpenAPI 3.1", obj{"type": "object"})})},
		"/": obj{"get": op("pages", "loginPage", "The login page", noAuth, nil, map[string]obj{"200": content("HTML (with a Content-Security-Policy)", "text/html")}),
			"head": headOf("loginPageHead", "The login page's headers")},
		"/scanlogin.js": obj{"get": op("pages", "widget", "The embeddable widget", noAuth, nil, map[string]obj{"200": content("JavaScript", "text/javascript")})},
		"/static/{path}": obj{"get": withParams(op("pages", "staticFile", "Static files of the pages", noAuth, nil,
			map[string]obj{"200": content("the file", "text/javascript", "text/css", "text/html", "image/svg+xml")}, "404"),
			obj{"name": "path", "in": "path", "required": true, "schema": obj{"type": "string"}})},
	}
	if dev {
		paths["/dev/wechat/{path}"] = obj{"post": withParams(op("dev", "devWeChat", "Dev mode: the fake WeChat's hooks /dev/wechat/login {openid, nickname?} and /dev/wechat/phonecode {openid, phone_number}; its other paths are WeChat's own API (errcode answers), not described here", noAuth,
			jsonBody(object(nil, obj{"openid": str(""), "nickname": str(""), "phone_number": str("")})),
			map[string]obj{"200": ok("a code, as wx.login or the getPhoneNumber button would give", answer([]string{"code"}, obj{"code": str("")}))}, "400", "503"),
			obj{"name": "path", "in": "path", "required": true, "schema": enum("", "login", "phonecode")})}
		paths["/dev/phone"] = obj{"get": withParams(op("dev", "devPhone", "Dev mode: the phone simulator", noAuth, nil, map[string]obj{"200": content("HTML (with a Content-Security-Policy)", "text/html")}),
			obj{"name": "scene", "in": "query", "schema": obj{"type": "string"}})}
	}
	for p, item := range paths {
		item := item.(obj)
		if p != "/dev/wechat/{path}" {
			item["options"] = options("options" + operationSuffix(p))
		}
		hoistPathParams(item)
	}
	if oidc != nil {
		addOIDCPaths(paths, oidc)
	}
	sceneState := enum("", "pending", "scanned", "confirmed", "redeemed", "cancelled", "expired")
	user := answer([]string{"id", "nickname", "avatar_url", "has_phone"}, obj{
		"id": str(""), "nickname": str("at most 64 characters, without control or formatting characters"), "avatar_url": str(""),
		"has_phone": boolean(""), "phone_number": str("masked except the last 4; only when has_phone"),
	})
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":   "scanlogin",
			"version": "1",
			"description": "Sign in to a website by scanning a WeChat mini-program code, and mini-program login. " +
				"Every path answers a method it does not list with 405 method_not_allowed (the Error body) and an Allow header naming the methods listed here. " +
				"Errors are {\"error\": {\"code\", \"message\"}}; codes and statuses: docs/ARCHITECTURE.md#errors.",
		},
		"servers": []obj{{"url": publicURL}},
		"paths":   paths,
		"components": obj{
			"securitySchemes": obj{
				"pollToken":     obj{"type": "http", "scheme": "bearer", "description": "the poll_token of POST /api/v1/qr"},
				"mpToken":       obj{"type": "http", "scheme": "bearer", "description": "the token of POST /api/v1/mp/login"},
				"accessToken":   obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
				"sessionCookie": obj{"type": "apiKey", "in": "cookie", "name": SessionCookie},
			},
			"schemas": obj{
				"Error": answer([]string{"error"}, obj{"error": answer([]string{"code", "message"}, obj{"code": str("machine-readable"), "message": str("human-readable")})}),
				"NewScene": answer([]string{"scene", "poll_token", "qr_image_url", "match_code", "number_match", "state", "version", "expires_at", "expires_in", "poll_wait"}, obj{
					"scene": obj{"type": "string", "pattern": "^[0-9a-f]{32}$"}, "poll_token": str("secret of the browser"), "qr_image_url": str("absolute"),
					"match_code": obj{"type": "string", "pattern": "^[0-9]{2}$", "description": "shown in the browser"}, "number_match": boolean(""), "state": enum("", "pending"),
					"version": integer("1"), "expires_at": dateTime(""), "expires_in": integer("seconds"),
					"poll_wait": integer("recommended wait for the state poll, seconds"),
				}),
				"SceneState": answer([]string{"scene", "state", "version", "expires_in"}, obj{
					"scene": obj{"type": "string", "pattern": "^[0-9a-f]{32}$"}, "state": sceneState,
					"version": integer(""), "expires_in": integer("seconds"),
					"scanned_by": answer([]string{"nickname", "avatar_url"}, obj{"nickname": str(""), "avatar_url": str("")}),
				}),
				"SceneResult": answer([]string{"scene", "state"}, obj{"scene": obj{"type": "string", "pattern": "^[0-9a-f]{32}$"}, "state": sceneState}),
				"Scan": answer([]string{"scene", "state", "expires_in", "browser", "site"}, obj{
					"scene": obj{"type": "string", "pattern": "^[0-9a-f]{32}$"}, "state": enum("scanned; confirmed when its scanner scans again after confirming (a rescan is idempotent: the scene as it stands)", "scanned", "confirmed"), "expires_in": integer("seconds"),
					"browser": answer([]string{"ip", "user_agent", "label", "created_at"}, obj{
						"ip": str("the browser that created the scene"), "user_agent": str("as the browser sent it"),
						"label":      str(`what to show a person, e.g. "Chrome 124 · Windows 10/11"; "" when unknown`),
						"created_at": dateTime(""),
					}),
					"match_choices": obj{"type": "array", "items": obj{"type": "string", "pattern": "^[0-9]{2}$"}, "minItems": 3, "maxItems": 3, "description": "number match on"},
					"site":          answer([]string{"name"}, obj{"name": str("")}),
				}),
				"Tokens": answer([]string{"access_token", "token_type", "expires_in", "refresh_token"}, obj{
					"access_token": str("JWT, EdDSA"), "token_type": enum("", "Bearer"), "expires_in": integer("seconds"), "refresh_token": str("works once (a 10 s reuse window)"),
					"user": answer([]string{"id", "nickname", "avatar_url"}, obj{"id": str(""), "nickname": str(""), "avatar_url": str("")}),
				}),
				"MPLogin": answer([]string{"token", "expires_in", "is_new_user", "user"}, obj{
					"token": str(""), "expires_in": integer("seconds"), "is_new_user": boolean(""), "user": ref("User"),
				}),
				"User": user,
				"Sessions": answer([]string{"sessions"}, obj{"sessions": obj{"type": "array", "items": answer([]string{"id", "created_at", "last_seen_at", "ip", "user_agent", "label"}, obj{
					"id": str(""), "created_at": dateTime(""), "last_seen_at": dateTime(""),
					"ip": str(""), "user_agent": str(""), "label": str(`what to show a person, e.g. "Safari 17 · iOS 17"; "" when unknown`),
				})}}),
				"JWKS": answer([]string{"keys"}, obj{"keys": obj{"type": "array", "items": answer([]string{"kty", "kid", "use", "alg"}, obj{
					"kty": enum("OKP (Ed25519) or RSA", "OKP", "RSA"), "crv": enum("OKP only", "Ed25519"), "x": str("OKP only"), "n": str("RSA only"), "e": str("RSA only"),
					"kid": str(""), "use": enum("", "sig"), "alg": enum("", "EdDSA", "RS256"),
				})}}),
			},
		},
	}
}

// hoistPathParams moves the path parameters of a path item's operations to
// the item, where they hold for every method (OPTIONS included).
func hoistPathParams(item obj) {
	var shared []obj
	seen := map[string]bool{}
	for m, o := range item {
		if m == "parameters" {
			continue
		}
		o := o.(obj)
		params, _ := o["parameters"].([]obj)
		var rest []obj
		for _, p := range params {
			if p["in"] != "path" {
				rest = append(rest, p)
				continue
			}
			if name := p["name"].(string); !seen[name] {
				seen[name] = true
				shared = append(shared, p)
			}
		}
		if len(rest) > 0 {
			o["parameters"] = rest
		} else {
			delete(o, "parameters")
		}
	}
	if len(shared) > 0 {
		item["parameters"] = shared
	}
}

// operationSuffix makes an operationId part from a path.
func operationSuffix(p string) string {
	out := []byte{}
	up := true
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z':
			if up {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			up = false
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			out = append(out, c)
			up = false
		default:
			up = true
		}
	}
	if len(out) == 0 {
		return "Root"
	}
	return string(out)
}

// openAPI is GET /openapi.json.
func (s *Server) openAPI(c echo.Context) error {
	var oidc []oidcop.Route
	if s.opts.OIDC != nil {
		oidc = s.opts.OIDC.Routes()
	}
	return c.JSON(http.StatusOK, OpenAPIDocument(s.opts.PublicURL, s.opts.DevWeChat != nil, oidc))
}

// withETag adds the ETag header to an avatar answer.
func withETag(r obj) obj {
	r["headers"] = obj{"ETag": obj{"required": true, "description": "the image's SHA-256", "schema": obj{"type": "string"}}}
	return r
}

// linkErrorsAsPages: the link endpoint answers a navigating browser
// (Accept: text/html) with an error page instead of the Error body.
func linkErrorsAsPages(o obj) obj {
	for code, r := range o["responses"].(obj) {
		if code[0] == '4' || code[0] == '5' {
			r.(obj)["content"].(obj)["text/html"] = obj{"schema": obj{"type": "string"}}
		}
	}
	return o
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
				"400": obj{"description": "an OAuth 2.0 error, or a page when no registered redirect URI can take it"},
				"503": obj{"description": "temporarily_unavailable, or a page, with Retry-After: Redis cannot be reached or the server is busy",
					"headers": obj{"Retry-After": retryAfter["Retry-After"]}}}}
	}
}
