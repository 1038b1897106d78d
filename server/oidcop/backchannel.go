package oidcop

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/redis/go-redis/v9"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// Back-channel logout (docs/OIDC.md#back-channel-logout): when a browser
// session ends, every client that received tokens for it and registered a
// backchannel_logout_uri is sent a signed logout token, in the background
// and with retries, so the logout itself never waits for a client.

// backchannelEvent is the logout token's events member.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// Delivery retries: the waits between attempts.
var backchannelBackoff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute}

type backchannel struct {
	p      *Provider
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newBackchannel(p *Provider) *backchannel {
	ctx, cancel := context.WithCancel(context.Background())
	return &backchannel{p: p, ctx: ctx, cancel: cancel}
}

func (b *backchannel) close() {
	b.cancel()
	b.wg.Wait()
}

func (b *backchannel) goDo(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// SessionEnded is the engine's OnSessionEnd hook. It returns at once; the
// work runs in the background.
func (p *Provider) SessionEnded(e scanlogin.SessionEnd) {
	if p.bcl.ctx.Err() != nil {
		return
	}
	p.bcl.goDo(func() { p.sessionEnded(e) })
}

func (p *Provider) sessionEnded(e scanlogin.SessionEnd) {
	ctx, cancel := context.WithTimeout(p.bcl.ctx, 10*time.Second)
	defer cancel()
	st := p.st
	// A grant (a client's refresh token) that ended.
	g := new(grant)
	found, err := st.getJSON(ctx, st.grantKey(e.SessionID), g)
	if err != nil {
		p.log.Warn("oidc: session end: read grant", "err", err)
		return
	}
	if found {
		_ = st.rdb.Del(ctx, st.grantKey(e.SessionID)).Err()
		if e.Reason == scanlogin.SessionRefreshReused {
			// A stolen refresh token ends the browser session it came
			// from, and so every client's tokens for it.
			if err := p.opts.Engine.RevokeSession(ctx, g.SessionID); err != nil && !errors.Is(err, scanlogin.ErrSessionNotFound) {
				p.log.Warn("oidc: end session after refresh reuse", "err", err)
			}
		}
		return
	}
	// A browser session: its grants end, its clients are told.
	var clients, grants *redis.StringSliceCmd
	_, err = st.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		clients = pl.SMembers(ctx, st.sidClients(e.SessionID))
		grants = pl.SMembers(ctx, st.sidGrants(e.SessionID))
		pl.Del(ctx, st.sidClients(e.SessionID), st.sidGrants(e.SessionID))
		return nil
	})
	if err != nil {
		p.log.Warn("oidc: session end: read clients", "err", err)
		return
	}
	for _, gid := range grants.Val() {
		if err := p.opts.Engine.RevokeSession(ctx, gid); err != nil && !errors.Is(err, scanlogin.ErrSessionNotFound) {
			p.log.Warn("oidc: end grant", "grant", gid, "err", err)
		}
	}
	for _, cid := range clients.Val() {
		c, ok := p.clients.get(cid)
		if !ok || c.cfg.BackchannelLogoutURI == "" {
			continue
		}
		cfg := c.cfg
		p.bcl.goDo(func() { p.deliverLogout(cfg, e.SessionID, e.UserID) })
	}
}

// logoutToken signs a logout token for a client (OpenID Connect
// Back-Channel Logout 1.0 §2.4), with the client's ID token algorithm.
func (p *Provider) logoutToken(c ClientConfig, sid, sub string) (string, error) {
	k := p.keys.signer(c.IDTokenAlg)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.SignatureAlgorithm(), Key: jose.JSONWebKey{Key: k.Key(), KeyID: k.ID()}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return "", err
	}
	now := p.now()
	claims := map[string]any{
		"iss":    p.opts.Issuer,
		"aud":    c.ID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    newID(),
		"sid":    sid,
		"events": map[string]any{backchannelEvent: map[string]any{}},
	}
	if sub != "" {
		claims["sub"] = sub
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// deliverLogout posts the logout token, retrying on failure.
func (p *Provider) deliverLogout(c ClientConfig, sid, sub string) {
	for attempt := 0; ; attempt++ {
		// A fresh token per attempt: a receiver may refuse a jti it saw.
		tok, err := p.logoutToken(c, sid, sub)
		if err != nil {
			p.log.Error("oidc: sign logout token", "client_id", c.ID, "err", err)
			return
		}
		status, err := p.postLogout(c.BackchannelLogoutURI, tok)
		if err == nil && (status == http.StatusOK || status == http.StatusNoContent) {
			p.log.Info("oidc: back-channel logout delivered", "client_id", c.ID, "session_id", sid, "attempt", attempt+1)
			return
		}
		if attempt >= len(backchannelBackoff) {
			p.log.Warn("oidc: back-channel logout failed; giving up", "client_id", c.ID, "session_id", sid, "status", status, "err", err)
			return
		}
		p.log.Info("oidc: back-channel logout failed; will retry", "client_id", c.ID, "session_id", sid, "status", status, "err", err)
		select {
		case <-p.bcl.ctx.Done():
			return
		case <-time.After(backchannelBackoff[attempt]):
		}
	}
}

func (p *Provider) postLogout(uri, token string) (int, error) {
	ctx, cancel := context.WithTimeout(p.bcl.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		// The URL error names the URI, never the token (it is in the body).
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}
