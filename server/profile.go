package server

import (
	"context"
	"errors"
	"strings"

	"github.com/scanlogin/scanlogin/scanlogin"
)

// avatarPath is where uploaded avatars are served (GET /api/v1/avatars/{id}).
const avatarPath = "/api/v1/avatars/"

// avatarURL is the public URL of an uploaded avatar.
func (s *Server) avatarURL(id string) string {
	return s.opts.PublicURL + avatarPath + id
}

// saveProfile applies PUT (or PATCH) /api/v1/mp/me. An avatar URL of ours
// names an upload of this user: saving it makes it permanent, since an upload
// that no profile save names expires (README.md, the API table). Any
// other avatar URL (WeChat's https avatar, or "" to clear it) deletes the
// user's uploaded one.
func (s *Server) saveProfile(ctx context.Context, uid string, req profilePatch) (*scanlogin.User, error) {
	upd := scanlogin.ProfileUpdate{Nickname: req.Nickname}
	if req.AvatarURL != nil {
		id, ours := strings.CutPrefix(*req.AvatarURL, s.opts.PublicURL+avatarPath)
		if !ours {
			upd.AvatarURL = req.AvatarURL
		} else {
			u, err := s.engine.ClaimAvatar(ctx, uid, id, *req.AvatarURL)
			if errors.Is(err, scanlogin.ErrAvatarNotFound) {
				return nil, invalidRequest("avatar_url: not an upload of yours, or it expired before a profile save used it; upload it again")
			}
			if err != nil || req.Nickname == nil {
				return u, err
			}
		}
	}
	u, err := s.engine.UpdateUser(ctx, uid, upd)
	if err != nil {
		return nil, err
	}
	if upd.AvatarURL != nil {
		if err := s.engine.DropAvatar(ctx, uid); err != nil {
			return nil, err
		}
	}
	return u, nil
}
