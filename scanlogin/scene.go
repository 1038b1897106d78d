package scanlogin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/redis/go-redis/v9"
)

// State is the state of a scene.
type State string

// The scene states of docs/ARCHITECTURE.md#state-machine.
const (
	StatePending   State = "pending"
	StateScanned   State = "scanned"
	StateConfirmed State = "confirmed"
	StateRedeemed  State = "redeemed"
	StateCancelled State = "cancelled"
	StateExpired   State = "expired"
)

// Final reports whether no transition can leave s.
func (s State) Final() bool {
	return s == StateRedeemed || s == StateCancelled || s == StateExpired
}

// Scene is a login scene as callers see it. Expiry has already been judged
// against the engine's clock: a scene read past its deadline is "expired".
type Scene struct {
	ID      string
	State   State
	Version int64
	// MatchCode is shown in the browser. MatchChoices (3 codes including
	// MatchCode, stable per scene) are set only with Config.NumberMatch.
	MatchCode        string
	MatchChoices     []string
	BrowserIP        string
	BrowserUserAgent string
	CreatedAt        time.Time
	ExpiresAt        time.Time // deadline of the current state; zero once final
	ScannedBy        string    // user ID of the scanner ("" before scan)
	// Scanner is the scanner's profile as the scan found it in the user
	// cache, for the browser's "is this you?" and the redeem's answer; nil
	// when the scan found none there (see Scan).
	Scanner     *ScannerProfile
	ScannedAt   time.Time
	ConfirmedAt time.Time
}

// ScannerProfile is what a scene keeps of its scanner's profile.
type ScannerProfile struct{ Nickname, AvatarURL string }

// ExpiresIn is the time left until ExpiresAt, never negative; zero once
// final.
func (s *Scene) ExpiresIn(now time.Time) time.Duration {
	if s.ExpiresAt.IsZero() {
		return 0
	}
	return max(s.ExpiresAt.Sub(now), 0)
}

// NewScene describes the browser that asks for a scene.
type NewScene struct{ BrowserIP, BrowserUserAgent string }

// sceneRecord is the scene as stored in Redis: one JSON string per scene, so
// that creation is a single SET and each transition script a GET, a SET and
// a PUBLISH. Times are Unix milliseconds of the engine's clock.
type sceneRecord struct {
	ID        string `json:"id"`
	State     State  `json:"st"`
	Version   int64  `json:"v"`
	TokenHash string `json:"th"` // SHA-256 hex of the poll token
	MatchCode string `json:"mc"`
	Choices   string `json:"ch,omitempty"` // comma-separated, only with number match
	IP        string `json:"ip"`
	UserAgent string `json:"ua"`
	Created   int64  `json:"ca"`
	Deadline  int64  `json:"dl"` // 0 once final
	ScannedBy string `json:"sb,omitempty"`
	// Scanner is written by the scan script (transitionLua).
	Scanner     *scannerRecord `json:"sp,omitempty"`
	ScannedAt   int64          `json:"sa,omitempty"`
	ConfirmedAt int64          `json:"cfa,omitempty"`
	RedeemedAt  int64          `json:"ra,omitempty"`
	FinalAt     int64          `json:"fa,omitempty"`
}

type scannerRecord struct {
	Nickname  string `json:"n"`
	AvatarURL string `json:"a"`
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// view turns a record into a Scene, judging expiry at now. A non-final scene
// past its deadline reads as expired with its version bumped by one, exactly
// as if the expiry had been written, so waiters see it as a change. Nothing
// is written: reads have no side effects.
func (r *sceneRecord) view(now time.Time) *Scene {
	s := &Scene{
		ID:               r.ID,
		State:            r.State,
		Version:          r.Version,
		MatchCode:        r.MatchCode,
		BrowserIP:        r.IP,
		BrowserUserAgent: r.UserAgent,
		CreatedAt:        fromMS(r.Created),
		ScannedBy:        r.ScannedBy,
		ScannedAt:        fromMS(r.ScannedAt),
		ConfirmedAt:      fromMS(r.ConfirmedAt),
	}
	if r.Choices != "" {
		s.MatchChoices = strings.Split(r.Choices, ",")
	}
	if r.Scanner != nil {
		s.Scanner = &ScannerProfile{Nickname: r.Scanner.Nickname, AvatarURL: r.Scanner.AvatarURL}
	}
	if !s.State.Final() {
		if ms(now) >= r.Deadline {
			s.State = StateExpired
			s.Version++
		} else {
			s.ExpiresAt = fromMS(r.Deadline)
		}
	}
	return s
}

const (
	maxUserAgent = 512
	maxIP        = 64
	// maxNickname is 64 characters (the server's limit) of up to 4 bytes.
	maxNickname = 256
	// maxAvatarURL is the longest avatar URL a profile keeps.
	maxAvatarURL = 1024
)

// truncate cuts s to at most n bytes, on a rune boundary: a cut in the
// middle of a character would store invalid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CreateScene starts a pending scene and returns it with its poll token, the
// only copy of which goes to the caller (Redis keeps a hash).
// Errors: ErrUnavailable.
func (e *Engine) CreateScene(ctx context.Context, ns NewScene) (*Scene, string, error) {
	now := e.now()
	token := newSecret()
	life := min(e.cfg.SceneTTL, e.cfg.HardCap)
	rec := sceneRecord{
		State:     StatePending,
		Version:   1,
		TokenHash: hashToken(token),
		MatchCode: twoDigits(),
		IP:        truncate(ns.BrowserIP, maxIP),
		UserAgent: truncate(ns.BrowserUserAgent, maxUserAgent),
		Created:   ms(now),
		Deadline:  ms(now.Add(life)),
	}
	if e.cfg.NumberMatch {
		rec.Choices = strings.Join(matchChoices(rec.MatchCode), ",")
	}
	// A 122-bit random ID never collides in practice; NX makes sure a
	// collision could never overwrite someone's scene.
	for range 3 {
		rec.ID = newID()
		b, err := json.Marshal(&rec)
		if err != nil {
			return nil, "", fmt.Errorf("scanlogin: create scene: %w", err)
		}
		ok, err := e.rdb.SetNX(ctx, e.sceneKey(rec.ID), b, life+gcGrace).Result()
		if err != nil {
			return nil, "", e.storeErr("create scene", err)
		}
		if ok {
			return rec.view(now), token, nil
		}
	}
	return nil, "", fmt.Errorf("scanlogin: create scene: %w: scene id collisions", ErrUnavailable)
}

// readScene reads a scene record. Errors: ErrSceneNotFound, ErrUnavailable.
func (e *Engine) readScene(ctx context.Context, id string) (*sceneRecord, error) {
	b, err := e.rdb.Get(ctx, e.sceneKey(id)).Bytes()
	if isNil(err) {
		return nil, fmt.Errorf("scanlogin: scene %s: %w", id, ErrSceneNotFound)
	}
	if err != nil {
		return nil, e.storeErr("read scene", err)
	}
	return decodeScene(id, b)
}

// lenientJSON: invalid UTF-8 becomes U+FFFD and a repeated name keeps the
// last value, as with encoding/json.
var lenientJSON = jsonv2.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))

// decodeScene reads a scene record with encoding/json's successor (the
// go-json-experiment module): a login decodes about eight records, and it
// takes a third of encoding/json's time and an eighth of its allocations
// for one (BenchmarkDecodeScene, docs/BENCHMARKS.md). It reads as leniently
// as encoding/json did: the scripts copy a nickname into the record byte
// for byte, and one bad byte must not make a scene unreadable.
func decodeScene(id string, b []byte) (*sceneRecord, error) {
	var rec sceneRecord
	if err := jsonv2.Unmarshal(b, &rec, lenientJSON); err != nil {
		return nil, fmt.Errorf("scanlogin: decode scene %s: %w", id, err)
	}
	return &rec, nil
}

// Scene returns a scene without authorization (the phone side uses it);
// expiry is judged on read.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrUnavailable.
func (e *Engine) Scene(ctx context.Context, id string) (*Scene, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: scene: %w", ErrInvalidSceneID)
	}
	rec, err := e.readScene(ctx, id)
	if err != nil {
		return nil, err
	}
	return rec.view(e.now()), nil
}

// Authorize returns the scene if pollToken is its poll token.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrInvalidPollToken,
// ErrUnavailable.
func (e *Engine) Authorize(ctx context.Context, id, pollToken string) (*Scene, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: authorize: %w", ErrInvalidSceneID)
	}
	rec, err := e.readScene(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.authorized(rec, hashToken(pollToken))
}

// authorized is the scene of rec if tokenHash is its poll token's hash.
func (e *Engine) authorized(rec *sceneRecord, tokenHash string) (*Scene, error) {
	if !equalHash(rec.TokenHash, tokenHash) {
		return nil, fmt.Errorf("scanlogin: authorize scene %s: %w", rec.ID, ErrInvalidPollToken)
	}
	return rec.view(e.now()), nil
}

// authorizePoll is Authorize for a Wait's first read: with
// Config.PollsPerMinute set, it counts the poll in the same round trip
// (pollReadLua), so the poll limit costs no Redis round trip of its own.
// Errors: those of Authorize, and *LimitError (ErrPollLimited).
func (e *Engine) authorizePoll(ctx context.Context, id, pollToken string) (*Scene, error) {
	if e.cfg.PollsPerMinute <= 0 {
		return e.Authorize(ctx, id, pollToken)
	}
	th := hashToken(pollToken)
	res, err := e.scripts.pollRead.Run(ctx, e.rdb, []string{e.sceneKey(id), e.pollCountKey(id, th)},
		e.cfg.PollsPerMinute, pollWindow.Milliseconds(), th).Slice()
	if err != nil {
		return nil, e.storeErr("read scene", err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("scanlogin: poll read: unexpected reply %v", res)
	}
	switch res[0] {
	case "limited":
		ms, _ := res[1].(int64)
		return nil, &LimitError{Limit: limitPoll, RetryAfter: max(time.Duration(ms)*time.Millisecond, time.Second)}
	case "none":
		return nil, fmt.Errorf("scanlogin: scene %s: %w", id, ErrSceneNotFound)
	case "bad_token":
		return nil, fmt.Errorf("scanlogin: authorize scene %s: %w", id, ErrInvalidPollToken)
	}
	b, _ := res[1].(string)
	rec, err := decodeScene(id, []byte(b))
	if err != nil {
		return nil, err
	}
	return e.authorized(rec, th)
}

// pollWindow is the window of Config.PollsPerMinute.
const pollWindow = time.Minute

// pollReadLua reads a scene and counts one poll of it. KEYS[1] scene,
// KEYS[2] the poll count of the presented token. ARGV: limit, window ms,
// the presented token's hash. Reply {"none", false} for no scene,
// {"bad_token", false} when the hash is not the scene's (nothing is counted
// in either case: a stranger who read the scene ID off the QR code neither
// spends the browser's polls nor gets a count, or a key, of his own),
// {"limited", ms until the window ends}, or {"ok", scene JSON}. A fixed
// window: at most limit polls in each, which is what a cap against a
// runaway poller needs. The record's "th" member is found as written (Go
// and cjson both write "th":"<hex>"); authorized checks it again in Go.
const pollReadLua = `
local s = redis.call('GET', KEYS[1])
if not s then return {'none', false} end
if not string.find(s, '"th":"' .. ARGV[3] .. '"', 1, true) then return {'bad_token', false} end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
if n > tonumber(ARGV[1]) then return {'limited', redis.call('PTTL', KEYS[2])} end
return {'ok', s}
`

// Scan records userID as the scanner of a pending scene and grants the
// confirm window (never past the hard cap). A rescan by the same user
// changes nothing and succeeds. With Config.ScansPerMinute set, the scan is
// counted against the user's limit first. The scene keeps the scanner's
// nickname and avatar from the user cache (Scene.Scanner), read in the
// same round trip as the count, so that neither the browser's poll nor the
// redeem reads the user again; a user not cached is scanned without them
// (the scan never waits for the database). ScanWithToken is the same for a
// phone that presents its mini-program token.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrAlreadyScanned,
// ErrSceneFinal, ErrSceneExpired, *LimitError, ErrUnavailable. On a refusal
// by the state machine the scene as it stands is returned with the error.
func (e *Engine) Scan(ctx context.Context, id, userID string) (*Scene, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: scan: %w", ErrInvalidSceneID)
	}
	// The profile read and the transition share one bound: a profile read
	// that fails is no error, and must not double a hung Redis's wait.
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	prof, err := e.countScan(ctx, userID, "")
	if err != nil {
		return nil, err
	}
	return e.transition(ctx, "scan", id, userID, transitionArgs{scanner: prof})
}

// ScanWithToken is Scan by the user of a mini-program token, and returns
// that user's ID too: "" while the token is not known to be good, that is
// with ErrInvalidToken and with a Redis failure before the token was
// checked; the user's ID with every error after (*LimitError, the scene's).
// A token of the current form ("<user id>.<secret>", session.go) is
// checked by the script that counts the scan and reads the scanner's
// profile (countScan, in the user's hash slot), so the whole scan is two
// round trips, that script and the transition, under one bound as Scan's;
// a token that is refused spends none of the user's scan limit. A token of
// the old form is looked up first (MPTokenUser), then scanned by Scan.
// Errors: ErrInvalidSceneID, ErrInvalidToken, and those of Scan.
func (e *Engine) ScanWithToken(ctx context.Context, id, token string) (*Scene, string, error) {
	if !validID(id) {
		return nil, "", fmt.Errorf("scanlogin: scan: %w", ErrInvalidSceneID)
	}
	if !validMPTokenLength(token) {
		return nil, "", fmt.Errorf("scanlogin: scan: mp token: %w", ErrInvalidToken)
	}
	userID := mpTokenUserOf(token)
	if userID == "" {
		// The old form, in a slot of its own: a round trip more (see
		// session.go for when this fallback can go).
		uid, err := e.MPTokenUser(ctx, token)
		if err != nil {
			return nil, "", err
		}
		s, err := e.Scan(ctx, id, uid)
		return s, uid, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	prof, err := e.countScan(ctx, userID, hashToken(token))
	var le *LimitError
	if errors.As(err, &le) {
		return nil, userID, err // the token passed: the limit is checked after it
	}
	if err != nil {
		return nil, "", err
	}
	s, err := e.transition(ctx, "scan", id, userID, transitionArgs{scanner: prof})
	return s, userID, err
}

// countScan counts a scan of userID against Config.ScansPerMinute and
// reads the user's cached profile, in one round trip (one script, or the
// read alone with no limit and no token). With tokenHash (ScanWithToken),
// the script first checks the user's mini-program token of that hash and
// refuses one that is not there, not the user's or expired with
// ErrInvalidToken, counting nothing. A profile that cannot be read is no
// error: it is a courtesy, and the poll and the redeem read the user
// themselves when the scene has none.
func (e *Engine) countScan(ctx context.Context, userID, tokenHash string) (*ScannerProfile, error) {
	if !validID(userID) {
		if tokenHash != "" {
			return nil, fmt.Errorf("scanlogin: mp token: %w", ErrInvalidToken)
		}
		return nil, nil // no such user: nothing cached
	}
	cache := e.userCacheKey(userID)
	var f []any
	var err error
	switch limit := e.cfg.ScansPerMinute; {
	case tokenHash != "":
		keys := []string{e.scanLimitKey(userID), cache, e.userMPTokenKey(userID, tokenHash)}
		if f, err = e.count(ctx, "scan", limit, keys, userID, fID, fNickname, fAvatar); err != nil {
			return nil, err // the token and the limit fail closed
		}
	case limit > 0:
		if f, err = e.count(ctx, "scan", limit, []string{e.scanLimitKey(userID), cache}, "", fID, fNickname, fAvatar); err != nil {
			return nil, err // the limit fails closed
		}
	default:
		f, err = e.rdb.HMGet(ctx, cache, fID, fNickname, fAvatar).Result()
	}
	if err != nil || len(f) != 3 || f[0] != userID {
		if err != nil {
			e.log.Debug("scan: scanner profile unreadable", "user_id", userID, "err", err)
		}
		return nil, nil
	}
	nick, _ := f[1].(string)
	avatar, _ := f[2].(string)
	return &ScannerProfile{Nickname: nick, AvatarURL: avatar}, nil
}

// Confirm moves a scanned scene to confirmed, by its scanner only, and
// starts the redeem window. With number match on, a wrong matchCode cancels
// the scene and returns ErrMatchMismatch; no pick at all changes nothing
// and returns ErrMatchRequired. Confirming again by the scanner changes
// nothing and succeeds.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrNotScanned, ErrNotScanner,
// ErrMatchMismatch, ErrMatchRequired, ErrSceneFinal, ErrSceneExpired,
// ErrUnavailable.
func (e *Engine) Confirm(ctx context.Context, id, userID, matchCode string) (*Scene, error) {
	return e.transition(ctx, "confirm", id, userID, transitionArgs{pick: matchCode})
}

// Cancel cancels a scanned (or confirmed, not yet redeemed) scene on behalf
// of its scanner.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrNotScanned, ErrNotScanner,
// ErrSceneFinal, ErrSceneExpired, ErrUnavailable.
func (e *Engine) Cancel(ctx context.Context, id, userID string) (*Scene, error) {
	return e.transition(ctx, "cancel", id, userID, transitionArgs{})
}

// CancelByBrowser cancels a non-final scene on behalf of the browser that
// holds its poll token.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrInvalidPollToken,
// ErrSceneFinal, ErrSceneExpired, ErrUnavailable.
func (e *Engine) CancelByBrowser(ctx context.Context, id, pollToken string) (*Scene, error) {
	return e.transition(ctx, "bcancel", id, hashToken(pollToken), transitionArgs{})
}

// Redeem moves a confirmed scene to redeemed, exactly once; the returned
// Scene.ScannedBy is the user to sign in. Only the caller that gets a nil
// error may create a session.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrInvalidPollToken,
// ErrNotConfirmed, ErrAlreadyRedeemed, ErrSceneFinal, ErrSceneExpired,
// ErrUnavailable.
func (e *Engine) Redeem(ctx context.Context, id, pollToken string) (*Scene, error) {
	return e.transition(ctx, "redeem", id, hashToken(pollToken), transitionArgs{})
}

// transitionArgs are what some transitions take besides the actor.
type transitionArgs struct {
	pick    string          // confirm: the number picked
	scanner *ScannerProfile // scan: the scanner's profile to keep, if known
	// needScanner (redeem): refuse with errNeedScanner, changing nothing,
	// when the scene keeps no scanner profile (see RedeemScene).
	needScanner bool
}

// transition runs one compare-and-set of the scene state machine in Redis.
func (e *Engine) transition(ctx context.Context, op, id, actor string, a transitionArgs) (*Scene, error) {
	if !validID(id) {
		return nil, fmt.Errorf("scanlogin: %s: %w", op, ErrInvalidSceneID)
	}
	if actor == "" {
		return nil, fmt.Errorf("scanlogin: %s: empty user id", op)
	}
	now := e.now()
	publish, numberMatch := "1", "0"
	// Only the holder of the poll token may wait on a scene, and the browser
	// redeems or cancels only for itself, after its own poll has answered:
	// nobody else can be waiting for those two, so they publish nothing (a
	// waiter that somehow exists still sees the change at its end-of-wait
	// re-read). TestCommandsPerLogin pins what a login costs.
	if e.suppressPublish || op == "redeem" || op == "bcancel" {
		publish = "0"
	}
	if e.cfg.NumberMatch {
		numberMatch = "1"
	}
	scanner, nick, avatar := "0", "", ""
	if a.scanner != nil {
		scanner, nick, avatar = "1", truncate(a.scanner.Nickname, maxNickname), truncate(a.scanner.AvatarURL, maxAvatarURL)
	}
	if a.needScanner {
		scanner = "1"
	}
	res, err := e.scripts.transition.Run(ctx, e.rdb, []string{e.sceneKey(id)},
		op, ms(now), actor, a.pick,
		e.cfg.ConfirmWindow.Milliseconds(), e.cfg.HardCap.Milliseconds(),
		e.cfg.RedeemWindow.Milliseconds(), gcGrace.Milliseconds(),
		e.channel, publish, numberMatch, scanner, nick, avatar,
	).StringSlice()
	if err != nil {
		return nil, e.storeErr(op, err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("scanlogin: %s: unexpected script reply %d", op, len(res))
	}
	code := res[0]
	switch code {
	case "not_found":
		return nil, fmt.Errorf("scanlogin: %s scene %s: %w", op, id, ErrSceneNotFound)
	case "bad_token":
		return nil, fmt.Errorf("scanlogin: %s scene %s: %w", op, id, ErrInvalidPollToken)
	}
	rec, err := decodeScene(id, []byte(res[1]))
	if err != nil {
		return nil, fmt.Errorf("scanlogin: %s: %w", op, err)
	}
	s := rec.view(now)
	if code == "ok" || code == "same" {
		return s, nil
	}
	if code == "already_redeemed" {
		// Only the poll token holder gets here: a replayed redeem is worth
		// an operator's attention.
		e.log.Warn("scanlogin: second redeem refused", "scene", id)
	}
	sentinel, ok := scriptErrors[code]
	if !ok {
		return nil, fmt.Errorf("scanlogin: %s: unexpected script code %q", op, code)
	}
	return s, fmt.Errorf("scanlogin: %s scene %s: %w", op, id, sentinel)
}

// PutSceneImage caches the QR image of a scene for as long as the scene's
// key lives. Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrUnavailable.
func (e *Engine) PutSceneImage(ctx context.Context, id, contentType string, data []byte) error {
	if !validID(id) {
		return fmt.Errorf("scanlogin: put scene image: %w", ErrInvalidSceneID)
	}
	ok, err := e.scripts.putImage.Run(ctx, e.rdb, []string{e.sceneKey(id), e.imageKey(id)},
		packBlob(contentType, data)).Int()
	if err != nil {
		return e.storeErr("put scene image", err)
	}
	if ok == 0 {
		return fmt.Errorf("scanlogin: put scene image %s: %w", id, ErrSceneNotFound)
	}
	return nil
}

// SceneImage returns the cached QR image of a scene.
// Errors: ErrInvalidSceneID, ErrSceneNotFound (no image cached),
// ErrUnavailable.
func (e *Engine) SceneImage(ctx context.Context, id string) (string, []byte, error) {
	if !validID(id) {
		return "", nil, fmt.Errorf("scanlogin: scene image: %w", ErrInvalidSceneID)
	}
	b, err := e.rdb.Get(ctx, e.imageKey(id)).Bytes()
	if isNil(err) {
		return "", nil, fmt.Errorf("scanlogin: scene image %s: %w", id, ErrSceneNotFound)
	}
	if err != nil {
		return "", nil, e.storeErr("scene image", err)
	}
	ct, data := unpackBlob(b)
	return ct, data, nil
}

// packBlob stores a content type and bytes in one string value.
func packBlob(contentType string, data []byte) []byte {
	out := make([]byte, 0, len(contentType)+1+len(data))
	out = append(out, contentType...)
	out = append(out, 0)
	return append(out, data...)
}

func unpackBlob(b []byte) (string, []byte) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:]
		}
	}
	return "application/octet-stream", b
}

// scripts are the Lua scripts of the engine. redis.Script.Run uses EVALSHA
// and falls back to EVAL (which loads the script) on NOSCRIPT, so a Redis
// restart or failover costs one extra round trip.
type scripts struct {
	transition *redis.Script
	putImage   *redis.Script
	putUser    *redis.Script // the user cache
	refresh    *redis.Script
	revoke     *redis.Script
	// createSession is CreateSessionForScene's create-if-absent.
	createSession *redis.Script
	// pollRead is a Wait's first read with its poll counted.
	pollRead *redis.Script
	// limit counts one event of a rate limit (limit.go).
	limit *redis.Script
	// imageRead, imageStore, imageRelease: one code per scene
	// (sceneimage.go).
	imageRead, imageStore, imageRelease *redis.Script
}

func newScripts() scripts {
	return scripts{
		transition:    redis.NewScript(transitionLua),
		putImage:      redis.NewScript(putImageLua),
		putUser:       redis.NewScript(putUserLua),
		refresh:       redis.NewScript(refreshLua),
		revoke:        redis.NewScript(revokeLua),
		createSession: redis.NewScript(createSessionLua),
		pollRead:      redis.NewScript(pollReadLua),
		limit:         redis.NewScript(limitLua),
		imageRead:     redis.NewScript(imageReadLua),
		imageStore:    redis.NewScript(imageStoreLua),
		imageRelease:  redis.NewScript(imageReleaseLua),
	}
}

// transitionLua is the whole scene state machine: one atomic compare-and-set.
// KEYS[1] scene. ARGV: op (scan|confirm|cancel|bcancel|redeem), now ms,
// actor (user ID, or poll token hash for bcancel/redeem), number-match pick,
// confirm window ms, hard cap ms, redeem window ms, GC grace ms, channel,
// publish (1|0), number match (1|0), scanner (1|0: scan keeps the scanner's
// nickname and avatar, ARGV[13] and ARGV[14], as "sp"; redeem refuses with
// "need_scanner", changing nothing, a scene without "sp").
// Reply {code, scene JSON}. Only "ok" wrote anything; "same" is an
// idempotent repeat; every other code is a refusal that changed nothing.
// The deadline is judged by the caller's clock (ARGV[2]), not Redis TIME,
// so every instance and every test agrees with the clock that reads.
const transitionLua = `
local raw = redis.call('GET', KEYS[1])
if not raw then return {'not_found', ''} end
local op, now, actor, pick = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local confirmMs, hardMs, redeemMs, graceMs = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local publish, numberMatch, scanner = ARGV[10] == '1', ARGV[11] == '1', ARGV[12] == '1'
local s = cjson.decode(raw)
local st = s.st

local function commit(code, newst, dl)
  s.st = newst
  s.v = s.v + 1
  local ttl = graceMs
  if dl > 0 then
    ttl = dl - now + graceMs
  else
    s.fa = now
  end
  s.dl = dl
  local out = cjson.encode(s)
  redis.call('SET', KEYS[1], out, 'PX', math.max(1, math.floor(ttl)))
  if publish then redis.call('PUBLISH', ARGV[9], s.id .. ':' .. s.v) end
  return {code, out}
end

if (op == 'redeem' or op == 'bcancel') and s.th ~= actor then return {'bad_token', ''} end
local final = st == 'redeemed' or st == 'cancelled' or st == 'expired'
if st == 'expired' or (not final and now >= s.dl) then return {'expired', raw} end
if op == 'redeem' and st == 'redeemed' then return {'already_redeemed', raw} end
if final then return {'final', raw} end

if op == 'scan' then
  if st == 'pending' then
    s.sb = actor
    s.sa = now
    if scanner then s.sp = {n = ARGV[13], a = ARGV[14]} end
    return commit('ok', 'scanned', math.min(now + confirmMs, s.ca + hardMs))
  end
  if s.sb == actor then return {'same', raw} end
  return {'already_scanned', raw}
elseif op == 'confirm' then
  if st == 'pending' then return {'not_scanned', raw} end
  if s.sb ~= actor then return {'not_scanner', raw} end
  if st == 'confirmed' then return {'same', raw} end
  if numberMatch and pick == '' then return {'no_pick', raw} end
  if numberMatch and pick ~= s.mc then return commit('mismatch', 'cancelled', 0) end
  s.cfa = now
  return commit('ok', 'confirmed', now + redeemMs)
elseif op == 'cancel' then
  if st == 'pending' then return {'not_scanned', raw} end
  if s.sb ~= actor then return {'not_scanner', raw} end
  return commit('ok', 'cancelled', 0)
elseif op == 'bcancel' then
  return commit('ok', 'cancelled', 0)
elseif op == 'redeem' then
  if st ~= 'confirmed' then return {'not_confirmed', raw} end
  if scanner and type(s.sp) ~= 'table' then return {'need_scanner', raw} end
  s.ra = now
  return commit('ok', 'redeemed', 0)
end
return redis.error_reply('scanlogin: unknown op ' .. op)
`

// putImageLua caches an image under KEYS[2] for as long as the scene KEYS[1]
// lives. Reply 1, or 0 when the scene is gone.
const putImageLua = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
return 1
`
