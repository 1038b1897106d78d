package oidcop

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// Pages a person may see at the provider: Chinese to Chinese-speaking
// browsers, English otherwise (README.md); ?lang=zh|en forces either.

type msg struct{ zh, en string }

var (
	msgDone           = msg{"这次登录已经完成，不能再继续。请回到应用。", "This sign-in is already complete and cannot go on. Go back to the application."}
	msgOtherBrowser   = msg{"这个登录请求是在另一个浏览器里发起的，不能在这里继续。请回到应用，在这个浏览器里重新登录。", "This sign-in was started in another browser and cannot go on here. Go back to the application and sign in again in this browser."}
	msgUnknownRequest = msg{"这个登录请求不存在或已过期。请回到应用重新登录。", "This sign-in request is unknown or has expired. Go back to the application and sign in again."}
	msgBadRequest     = msg{"应用发来的登录请求无效（应用未登记，或回跳地址未登记），因此无法继续。请联系该应用的管理员。", "The application's sign-in request is invalid (unknown application, or a return address it has not registered), so it cannot continue. Please contact the application's administrator."}
	msgBadLogout      = msg{"应用发来的退出请求无效，未执行退出。", "The application's sign-out request is invalid; nothing was signed out."}
	msgLoggedOut      = msg{"你已退出登录。", "You have signed out."}
	msgConfirmLogout  = msg{"要在这个浏览器上退出登录吗？通过它登录的应用也会一并退出。", "Sign out in this browser? The applications you signed in to with it are signed out too."}
	msgServerError    = msg{"服务暂时不可用，请稍后重试。", "The service is temporarily unavailable. Please try again shortly."}
)

// isZh: the page speaks Chinese to this browser, by the rule of the other
// pages (README.md, "Languages"; web/static/i18n.js): ?lang=, then the
// request's ui_locales (an authorization's or a logout's: the relying
// party's choice), then the browser's languages; the first that is zh-*
// or en-* decides. (A language matcher would pick en over zh-TW or zh-HK,
// a weaker match, where the login page shows Chinese.)
func isZh(r *http.Request) bool {
	switch r.URL.Query().Get("lang") {
	case "zh":
		return true
	case "en":
		return false
	}
	q := r.URL.Query()
	if r.Form != nil { // a POSTed logout request's too
		q = r.Form
	}
	var tags []language.Tag
	for _, s := range strings.Fields(q.Get("ui_locales")) {
		if tag, err := language.Parse(s); err == nil {
			tags = append(tags, tag)
		}
	}
	accepted, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	for _, tag := range append(tags, accepted...) { // by preference
		switch base, _ := tag.Base(); base.String() {
		case "zh":
			return true
		case "en":
			return false
		}
	}
	return false
}

// The page. Its Detail is the library's (or Go's) error text, English
// whatever the page's language: lang="en" has screen readers read it so.
var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<main class="page"><section class="card">
<h1>{{.Title}}</h1>
<p class="lead" id="message">{{.Message}}</p>
{{if .Detail}}<p class="dev"><code lang="en">{{.Detail}}</code></p>{{end}}
{{if .Link}}<p><a class="btn" href="{{.Link}}">{{.LinkText}}</a></p>{{end}}
{{with .Form}}<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}">
{{end}}<input type="hidden" name="confirm" value="{{.Token}}">
<p><button class="btn" type="submit" id="confirm-logout">{{.Confirm}}</button> <a class="btn" href="/" id="cancel-logout">{{.Cancel}}</a></p>
</form>{{end}}
</section></main>
</body>
</html>
`))

type page struct {
	Lang, Title, Message, Detail, Link, LinkText string
	Form                                         *confirmForm
}

// confirmForm is a question's form: the request's fields again, and the
// confirmation.
type confirmForm struct {
	Action, Confirm, Cancel, Token string
	Fields                         [][2]string
}

func (p *Provider) renderPage(w http.ResponseWriter, r *http.Request, status int, title string, m msg, detail string) {
	p.render(w, r, status, page{Title: title, Detail: detail}, m)
}

// renderForm is a question: the page with a form that posts the answer.
func (p *Provider) renderForm(w http.ResponseWriter, r *http.Request, title string, m msg, f *confirmForm) {
	p.render(w, r, http.StatusOK, page{Title: title, Form: f}, m)
}

// pageCSP is the Content-Security-Policy of the pages above, as every HTML
// page of scanlogin has one (docs/ARCHITECTURE.md#security): they run no
// script and load only the site's stylesheet. There is no form-action: the
// sign-out question's answer is redirected to the client's registered
// post_logout_redirect_uri, and browsers apply form-action to that redirect.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

func (p *Provider) render(w http.ResponseWriter, r *http.Request, status int, pg page, m msg) {
	pg.Lang, pg.Message = "en", m.en
	if isZh(r) {
		pg.Lang, pg.Message = "zh-CN", m.zh
	}
	var buf bytes.Buffer
	_ = pageTmpl.Execute(&buf, pg)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, status int, m msg) {
	title := "Sign-in failed"
	if isZh(r) {
		title = "无法登录"
	}
	p.renderPage(w, r, status, title, m, "")
}

// unavailablePage: the store could not be reached; the page, title too,
// in the reader's language.
func (p *Provider) unavailablePage(w http.ResponseWriter, r *http.Request) {
	title := "Service unavailable"
	if isZh(r) {
		title = "服务暂时不可用"
	}
	p.renderPage(w, r, http.StatusServiceUnavailable, title, msgServerError, "")
}

// loggedOut is where RP-initiated logout lands without a registered
// post_logout_redirect_uri.
func (p *Provider) loggedOut(w http.ResponseWriter, r *http.Request) {
	title := "Signed out"
	if isZh(r) {
		title = "已退出"
	}
	p.renderPage(w, r, http.StatusOK, title, msgLoggedOut, "")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pageWriter turns the library's plain-text error answers at the
// browser-facing endpoints (an error it cannot send back to a registered
// redirect_uri) into our page, and runs onAnswer before any other answer
// (a redirect, or form_post's page) is written.
type pageWriter struct {
	http.ResponseWriter
	r        *http.Request
	p        *Provider
	onAnswer func(status int)
	status   int
	body     bytes.Buffer
}

func newPageWriter(w http.ResponseWriter, r *http.Request, p *Provider) *pageWriter {
	return &pageWriter{ResponseWriter: w, r: r, p: p}
}

func (w *pageWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	if status >= 400 {
		return // held until finish
	}
	if w.onAnswer != nil {
		w.onAnswer(status)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *pageWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status >= 400 {
		if w.body.Len() < 2048 {
			w.body.Write(b)
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// finish writes the held error page.
func (w *pageWriter) finish() {
	if w.status < 400 {
		return
	}
	m := msgBadRequest
	switch {
	case w.status >= 500:
		m = msgServerError
		w.status = http.StatusServiceUnavailable
		w.ResponseWriter.Header().Set("Retry-After", "2")
	case w.r.URL.Path == PathEndSession:
		m = msgBadLogout
	}
	detail := strings.TrimSpace(w.body.String())
	if strings.HasPrefix(detail, "{") {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal([]byte(detail), &e) == nil {
			detail = strings.TrimSpace(e.Error + ": " + e.Description)
		}
	}
	if len(detail) > 300 {
		detail = detail[:300]
	}
	title := "Sign-in failed"
	if isZh(w.r) {
		title = "无法继续"
	}
	w.p.renderPage(w.ResponseWriter, w.r, w.status, title, m, detail)
}
