package server

// The mini-program's own endpoints: login, the phone's authentication
// (phoneUser, used by every mini-program endpoint), the profile and its
// avatar and phone number.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/wxapi"
)

type mpUser struct {
	ID          string `json:"id"`
	Nickname    string `json:"nickname"`
	AvatarURL   string `json:"avatar_url"`
	HasPhone    bool   `json:"has_phone"`
	PhoneNumber string `json:"phone_number,omitempty"` // masked
}

func toMPUser(u *scanlogin.User) mpUser {
	m := mpUser{ID: u.ID, Nickname: scanlogin.CleanNickname(u.Nickname), AvatarURL: u.AvatarURL, HasPhone: u.HasPhone()}
	if u.Phone != "" {
		m.PhoneNumber = maskPhone(u.Phone)
	}
	return m
}

// maskPhone hides every character but the last four.
func maskPhone(p string) string {
	r := []rune(p)
	for i := 0; i < len(r)-4; i++ {
		if r[i] != '+' && r[i] != ' ' {
			r[i] = '*'
		}
	}
	return string(r)
}

type mpLoginRequest struct {
	Code          string `json:"code"`
	EncryptedData string `json:"encrypted_data"`
	IV            string `json:"iv"`
	RawData       string `json:"raw_data"`
	Signature     string `json:"signature"`
}

type mpLoginResponse struct {
	Token     string `json:"token"`
	ExpiresIn int64  `json:"expires_in"`
	IsNewUser bool   `json:"is_new_user"`
	User      mpUser `json:"user"`
}

// wxProfile is the part of WeChat's (legacy) user info we keep.
type wxProfile struct {
	NickName  string `json:"nickName"`
	AvatarURL string `json:"avatarUrl"`
}

// mpLogin is POST /api/v1/mp/login: wx.login code -> our mini-program token.
// The legacy getUserInfo fields are checked with the fresh session_key:
// raw_data against signature, encrypted_data+iv decrypted (watermark
// checked by wxapi); the profile they carry fills an empty one.
func (s *Server) mpLogin(c echo.Context) error {
	ctx := c.Request().Context()
	if err := s.limits.login(ctx, c.RealIP()); err != nil {
		return err
	}
	var req mpLoginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := required("code", req.Code); err != nil {
		return err
	}
	if (req.EncryptedData == "") != (req.IV == "") {
		return invalidRequest("encrypted_data and iv: give both or neither")
	}
	if (req.RawData == "") != (req.Signature == "") {
		return invalidRequest("raw_data and signature: give both or neither")
	}
	ws, err := s.wx.Code2Session(ctx, req.Code)
	if err != nil {
		return err
	}
	var profile wxProfile
	if req.RawData != "" {
		if err := wxapi.VerifyRawData(req.RawData, req.Signature, ws.SessionKey); err != nil {
			return badUserData(errBadSignature, err)
		}
		if err := json.Unmarshal([]byte(req.RawData), &profile); err != nil {
			return invalidRequest("raw_data: must be a JSON object")
		}
	}
	if req.EncryptedData != "" {
		plain, err := s.wx.DecryptUserData(ws.SessionKey, req.EncryptedData, req.IV)
		if err != nil {
			return badUserData(errBadEncryptedData, err)
		}
		var dec wxProfile
		if err := json.Unmarshal(plain, &dec); err == nil {
			profile = dec // the encrypted copy is authoritative
		}
	}
	u, created, err := s.engine.LoginUser(ctx, scanlogin.LoginInfo{OpenID: ws.OpenID, UnionID: ws.UnionID, SessionKey: ws.SessionKey})
	if err != nil {
		return err
	}
	// WeChat's avatar URL passes the same check as one the user sets, or
	// is dropped.
	if profile.AvatarURL, err = s.avatarURLParam(profile.AvatarURL); err != nil {
		profile.AvatarURL = ""
	}
	if upd := fillProfile(u, profile); upd != nil {
		if u, err = s.engine.UpdateUser(ctx, u.ID, *upd); err != nil {
			return err
		}
	}
	tok, ttl, err := s.engine.IssueMPToken(ctx, u.ID)
	if err != nil {
		return err
	}
	s.log.Info("mp login", "user_id", u.ID, "new_user", created, "ip", c.RealIP())
	noStore(c)
	return c.JSON(http.StatusOK, mpLoginResponse{Token: tok, ExpiresIn: seconds(ttl), IsNewUser: created, User: toMPUser(u)})
}

// fillProfile returns the update that copies WeChat's profile into empty
// fields of u, or nil.
func fillProfile(u *scanlogin.User, p wxProfile) *scanlogin.ProfileUpdate {
	var upd scanlogin.ProfileUpdate
	changed := false
	// WeChat's nickname is not the person's typing: cleaned, not refused.
	if nick := scanlogin.CleanNickname(p.NickName); u.Nickname == "" && nick != "" {
		upd.Nickname = &nick
		changed = true
	}
	if u.AvatarURL == "" && strings.HasPrefix(p.AvatarURL, "https://") && len(p.AvatarURL) <= 1024 {
		upd.AvatarURL = &p.AvatarURL
		changed = true
	}
	if !changed {
		return nil
	}
	return &upd
}

// phoneUser authenticates the phone: the mini-program token in the
// Authorization header, else a fresh wx.login code from the body.
func (s *Server) phoneUser(c echo.Context, code string) (string, error) {
	ctx := c.Request().Context()
	if tok := bearer(c.Request()); tok != "" {
		return s.engine.MPTokenUser(ctx, tok)
	}
	if code == "" {
		return "", errUnauthorized
	}
	if err := s.limits.login(ctx, c.RealIP()); err != nil {
		return "", err
	}
	ws, err := s.wx.Code2Session(ctx, code)
	if err != nil {
		return "", err
	}
	u, _, err := s.engine.LoginUser(ctx, scanlogin.LoginInfo{OpenID: ws.OpenID, UnionID: ws.UnionID, SessionKey: ws.SessionKey})
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// mpMe is GET /api/v1/mp/me.
func (s *Server) mpMe(c echo.Context) error {
	uid, err := s.phoneUser(c, "")
	if err != nil {
		return err
	}
	u, err := s.engine.User(c.Request().Context(), uid)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, toMPUser(u))
}

type profilePatch struct {
	Nickname  *string `json:"nickname"`
	AvatarURL *string `json:"avatar_url"`
}

// mpUpdateMe is PUT (and PATCH) /api/v1/mp/me. An avatar_url returned by the upload
// endpoint claims that upload (uploads nobody claims are collected); any
// other avatar_url releases the uploaded avatar the user had.
func (s *Server) mpUpdateMe(c echo.Context) error {
	var req profilePatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	uid, err := s.phoneUser(c, "")
	if err != nil {
		return err
	}
	if req.Nickname != nil {
		nick, err := nicknameParam(*req.Nickname)
		if err != nil {
			return err
		}
		req.Nickname = &nick
	}
	upd := scanlogin.ProfileUpdate{Nickname: req.Nickname, AvatarURL: req.AvatarURL}
	if req.AvatarURL != nil {
		au, err := s.avatarURLParam(*req.AvatarURL)
		if err != nil {
			return err
		}
		upd.AvatarURL = &au
		id := s.uploadedAvatarID(au)
		upd.AvatarID = &id
	}
	u, err := s.engine.UpdateUser(c.Request().Context(), uid, upd)
	if errors.Is(err, scanlogin.ErrAvatarNotFound) {
		return invalidRequest("avatar_url: no such upload of yours; upload the image again")
	}
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, toMPUser(u))
}

// avatarPath is where uploaded avatars are served, under the public URL.
const avatarPath = "/api/v1/avatars/"

// uploadedAvatarID is the upload an avatar URL of ours names, or "".
func (s *Server) uploadedAvatarID(avatarURL string) string {
	id, _ := strings.CutPrefix(avatarURL, s.opts.PublicURL+avatarPath)
	if id == avatarURL {
		return ""
	}
	return id
}

// mpAvatar is POST /api/v1/mp/me/avatar (multipart "file", <= 2 MiB). The
// upload is kept unclaimed until a profile save (PATCH /api/v1/mp/me) sets
// avatar_url to the URL it answers; one nobody claims within
// UnclaimedAvatarGrace is deleted.
func (s *Server) mpAvatar(c echo.Context) error {
	uid, err := s.phoneUser(c, "")
	if err != nil {
		return err
	}
	fh, err := c.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return invalidRequest("file: a multipart/form-data file field is required")
	}
	if fh.Size > maxAvatar {
		return errTooLarge
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAvatar+1))
	if err != nil {
		return err
	}
	if len(data) > maxAvatar {
		return errTooLarge
	}
	ctype := sniffImage(data)
	if ctype == "" {
		return errUnsupportedMedia
	}
	ctx := c.Request().Context()
	if ctype, data, err = normalizeAvatar(ctx, ctype, data); err != nil {
		return err
	}
	a, err := s.engine.PutAvatar(ctx, uid, ctype, data)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, map[string]string{"avatar_url": s.opts.PublicURL + avatarPath + a.ID})
}

// sniffImage returns the type of a PNG, JPEG or WebP image from its bytes,
// or "" for anything else, whatever the client claimed.
func sniffImage(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case len(data) >= 12 && bytes.Equal(data[:4], []byte("RIFF")) && bytes.Equal(data[8:12], []byte("WEBP")):
		return "image/webp"
	}
	return ""
}

// avatar is GET /api/v1/avatars/{id}, from the database. An ID names one
// upload whose bytes never change, so the answer may be cached for good
// (immutable) and its SHA-256 is a strong ETag.
func (s *Server) avatar(c echo.Context) error {
	a, err := s.engine.Avatar(c.Request().Context(), c.Param("id"))
	if errors.Is(err, scanlogin.ErrAvatarNotFound) {
		return errNoAvatar
	}
	if err != nil {
		return err
	}
	etag := `"` + a.SHA256 + `"`
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, a.ContentType, a.Data)
}

// etagMatches applies If-None-Match (RFC 9110 §13.1.2: a weak comparison,
// a list, or *) to our strong ETag.
func etagMatches(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || v == etag {
			return true
		}
	}
	return false
}

type phoneRequest struct {
	Code string `json:"code"`
}

// mpPhone is POST /api/v1/mp/me/phone {code} from the getPhoneNumber button.
func (s *Server) mpPhone(c echo.Context) error {
	var req phoneRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	uid, err := s.phoneUser(c, "")
	if err != nil {
		return err
	}
	if err := required("code", req.Code); err != nil {
		return err
	}
	ctx := c.Request().Context()
	info, err := s.wx.PhoneNumber(ctx, req.Code)
	if err != nil {
		return err
	}
	phone := info.PhoneNumber
	if phone == "" {
		phone = info.PurePhoneNumber
	}
	if _, err := s.engine.SetPhone(ctx, uid, phone); err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, map[string]string{"phone_number": maskPhone(phone)})
}
