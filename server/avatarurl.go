package server

import (
	"net"
	"net/url"
	"slices"
	"strings"
)

// DefaultAvatarHosts are WeChat's avatar hosts: the https hosts an
// avatar_url may name besides our own avatar route, unless
// SCANLOGIN_AVATAR_HOSTS says otherwise (README.md#configuration). The
// pages' Content-Security-Policy allows images from exactly these.
var DefaultAvatarHosts = []string{"thirdwx.qlogo.cn", "wx.qlogo.cn"}

const maxAvatarURL = 1024

var errAvatarURL = invalidRequest("avatar_url: must be an https URL on an allowed avatar host, or one returned by /api/v1/mp/me/avatar")

// ValidAvatarHost reports whether h may be an allowed avatar host: a
// lowercase DNS name with a dot, no port, not an IP address and not
// localhost, so the allow list cannot point pages at the server's own
// network.
func ValidAvatarHost(h string) bool {
	if h == "" || h != strings.ToLower(h) || !strings.Contains(h, ".") || net.ParseIP(h) != nil ||
		h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".") {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	// The top-level label starts with a letter, so no numeric spelling of
	// an IP address (2130706433, 0x7f000001, 127.1) passes.
	tld := h[strings.LastIndexByte(h, '.')+1:]
	return tld != "" && tld[0] >= 'a' && tld[0] <= 'z'
}

// avatarURLParam checks an avatar_url and returns it as stored: "" (no
// avatar), our avatar route exactly (/api/v1/avatars/{id}, relative or
// absolute on the public URL; stored absolute), or an https URL on an
// allowed avatar host (host lowercased). The URL is parsed and compared,
// never matched by prefix: no credentials, ports, fragments, dot segments
// (plain or percent-encoded), backslashes, spaces or non-ASCII, and the
// host must be one of the list, so loopback, private and link-local
// addresses in any spelling are out.
func (s *Server) avatarURLParam(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if len(raw) > maxAvatarURL {
		return "", invalidRequest("avatar_url: at most 1024 characters")
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b <= ' ' || b >= 0x7f || b == '\\' || b == '#' {
			return "", errAvatarURL
		}
	}
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
		if ownAvatarPath(raw) {
			return s.opts.PublicURL + raw, nil
		}
		return "", errAvatarURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", errAvatarURL
	}
	host := strings.ToLower(u.Host)
	if strings.EqualFold(u.Scheme+"://"+host, s.publicOrigin) {
		if ownAvatarPath(u.EscapedPath()) && u.RawQuery == "" && !u.ForceQuery {
			return s.opts.PublicURL + u.EscapedPath(), nil
		}
		return "", errAvatarURL
	}
	if u.Scheme != "https" || u.Port() != "" || !slices.Contains(s.avatarHosts, host) || hasDotSegment(u.EscapedPath()) {
		return "", errAvatarURL
	}
	u.Host = host
	return u.String(), nil
}

// ownAvatarPath: exactly /api/v1/avatars/{id}, id 32 lowercase hex.
func ownAvatarPath(p string) bool {
	id, ok := strings.CutPrefix(p, "/api/v1/avatars/")
	return ok && validSceneID(id) // avatar IDs have the form of scene IDs
}

// hasDotSegment reports a path segment that is, or decodes to, "." or
// "..", or that hides a slash in an escape.
func hasDotSegment(escapedPath string) bool {
	for _, seg := range strings.Split(escapedPath, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == "." || dec == ".." || strings.ContainsAny(dec, "/\\") {
			return true
		}
	}
	return false
}
