package oidcop

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is an authorization request between the authorization
// endpoint and the token endpoint, kept in Redis as JSON
// (docs/OIDC.md#storage).
type authRequest struct {
	ID                  string                   `json:"id"`
	ClientID            string                   `json:"cid"`
	RedirectURI         string                   `json:"ru"`
	State               string                   `json:"st,omitempty"`
	Nonce               string                   `json:"n,omitempty"`
	Scopes              []string                 `json:"sc"`
	ResponseType        oidc.ResponseType        `json:"rt"`
	ResponseMode        oidc.ResponseMode        `json:"rm,omitempty"`
	CodeChallenge       string                   `json:"cc,omitempty"`
	CodeChallengeMethod oidc.CodeChallengeMethod `json:"ccm,omitempty"`
	Prompt              []string                 `json:"p,omitempty"`
	MaxAge              *uint                    `json:"ma,omitempty"`
	UILocales           string                   `json:"ul,omitempty"` // ui_locales, as sent: the scan page's language
	HintSubject         string                   `json:"hs,omitempty"` // the sub of a verified id_token_hint
	CreatedAt           time.Time                `json:"ca"`
	IP                  string                   `json:"ip,omitempty"`
	UserAgent           string                   `json:"ua,omitempty"`
	Browser             string                   `json:"b,omitempty"` // hash of the BrowserCookie that made it

	// Set when the browser has signed in.
	UserID    string    `json:"uid,omitempty"`
	SessionID string    `json:"sid,omitempty"` // the browser's scanlogin session
	AuthTime  time.Time `json:"at,omitempty"`
	IsDone    bool      `json:"done,omitempty"`

	// codeKey is the Redis key of the code it was loaded by, if any.
	codeKey string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                      { return a.ID }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return nil }
func (a *authRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.AuthTime }
func (a *authRequest) GetClientID() string                { return a.ClientID }
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.UserID }
func (a *authRequest) Done() bool                         { return a.IsDone }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}

// hasPrompt reports whether the request carries prompt value p.
func (a *authRequest) hasPrompt(p string) bool {
	for _, v := range a.Prompt {
		if v == p {
			return true
		}
	}
	return false
}

// grant is what a client holds after a code exchange with offline_access:
// the engine web session whose rotating refresh token is the client's
// refresh token, tied to the browser's session SessionID.
type grant struct {
	ID        string    `json:"id"` // the engine session of the grant
	ClientID  string    `json:"cid"`
	UserID    string    `json:"uid"`
	SessionID string    `json:"sid"`
	Scopes    []string  `json:"sc"`
	AuthTime  time.Time `json:"at"`
}

// refreshRequest is a refresh_token grant: the grant, and the token
// presented (spent in CreateAccessAndRefreshTokens, after the client has
// authenticated).
type refreshRequest struct {
	g      *grant
	token  string
	scopes []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string       { return nil }
func (r *refreshRequest) GetAudience() []string  { return []string{r.g.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time { return r.g.AuthTime }
func (r *refreshRequest) GetClientID() string    { return r.g.ClientID }
func (r *refreshRequest) GetScopes() []string {
	if r.scopes != nil {
		return r.scopes
	}
	return r.g.Scopes
}
func (r *refreshRequest) GetSubject() string          { return r.g.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// accessToken is what Redis keeps of an opaque access token: whose, for
// which client and session, until when.
type accessToken struct {
	ID        string    `json:"id"`
	UserID    string    `json:"uid"`
	ClientID  string    `json:"cid"`
	SessionID string    `json:"sid"`
	GrantID   string    `json:"g,omitempty"`
	Scopes    []string  `json:"sc"`
	ExpiresAt time.Time `json:"exp"`
}
