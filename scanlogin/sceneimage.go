package scanlogin

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ImageMaker makes a scene's code: one getwxacodeunlimit call.
type ImageMaker func(ctx context.Context) (contentType string, data []byte, err error)

// One WeChat call per scene across every instance on one Redis
// (docs/ARCHITECTURE.md#storage): WeChat caps getwxacodeunlimit per minute
// per mini-program, and a scene must have one image.
const (
	// imageClaimTTL bounds how long one instance holds a scene's claim:
	// longer than a WeChat call with its retries (the server gives it
	// 20 s), so a slow call is not duplicated; a crashed holder frees it.
	imageClaimTTL = 25 * time.Second
	// imageRetryAfterFailure: a failed call keeps the claim this long, so
	// a failing WeChat sees about one call per scene per second, not one per
	// waiting browser.
	imageRetryAfterFailure = time.Second
	// imageMaxWait bounds a follower's wait for the holder's image.
	imageMaxWait = imageClaimTTL + 5*time.Second
)

// SceneImageOf returns the code of a live scene: the stored image, or, for
// the first caller across all instances, the one make returns, stored for
// the scene's lifetime. Concurrent callers elsewhere wait for that image
// (they poll Redis, 20-100 ms apart). A scene that is final answers as it
// would for a transition, whether or not an image was made: ErrSceneFinal,
// or ErrSceneExpired.
// Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrSceneFinal,
// ErrSceneExpired, make's errors, ErrUnavailable.
func (e *Engine) SceneImageOf(ctx context.Context, id string, make ImageMaker) (string, []byte, error) {
	if !validID(id) {
		return "", nil, fmt.Errorf("scanlogin: scene image: %w", ErrInvalidSceneID)
	}
	claim := newSecret()
	keys := []string{e.sceneKey(id), e.imageKey(id), e.imageClaimKey(id)}
	giveUp := time.Now().Add(imageMaxWait)
	pause := 20 * time.Millisecond
	for {
		res, err := e.scripts.imageRead.Run(ctx, e.rdb, keys, claim, imageClaimTTL.Milliseconds()).StringSlice()
		if isNil(err) {
			return "", nil, fmt.Errorf("scanlogin: scene image %s: %w", id, ErrSceneNotFound)
		}
		if err != nil {
			return "", nil, e.storeErr("scene image", err)
		}
		rec, err := decodeScene(id, []byte(res[1]))
		if err != nil {
			return "", nil, err
		}
		if err := finalSceneErr(rec.view(e.now())); err != nil {
			if res[0] == "claimed" {
				e.releaseImageClaim(ctx, keys[2], claim, 0)
			}
			return "", nil, fmt.Errorf("scanlogin: scene image %s: %w", id, err)
		}
		switch res[0] {
		case "image":
			ct, data := unpackBlob([]byte(res[2]))
			return ct, data, nil
		case "claimed":
			return e.makeSceneImage(ctx, keys, claim, make)
		}
		// Another caller holds the claim: wait for its image.
		if time.Now().After(giveUp) {
			return "", nil, e.storeErr("scene image", errors.New("waited too long for another instance's image"))
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", nil, e.storeErr("scene image", ctx.Err())
		case <-t.C:
		}
		pause = min(pause*2, 100*time.Millisecond)
	}
}

// makeSceneImage runs make under the claim and stores its image, unless
// one is stored already (then that one is returned: one image per scene).
func (e *Engine) makeSceneImage(ctx context.Context, keys []string, claim string, make ImageMaker) (string, []byte, error) {
	ct, data, err := make(ctx)
	if err != nil {
		e.releaseImageClaim(ctx, keys[2], claim, imageRetryAfterFailure)
		return "", nil, err
	}
	stored, err := e.scripts.imageStore.Run(ctx, e.rdb, keys, claim, packBlob(ct, data)).Text()
	if isNil(err) {
		return "", nil, fmt.Errorf("scanlogin: store scene image: %w", ErrSceneNotFound)
	}
	if err != nil {
		return "", nil, e.storeErr("store scene image", err)
	}
	ct, data = unpackBlob([]byte(stored))
	return ct, data, nil
}

// releaseImageClaim frees our claim at once (keep 0) or after keep.
func (e *Engine) releaseImageClaim(ctx context.Context, key, claim string, keep time.Duration) {
	ctx = context.WithoutCancel(ctx)
	if err := e.scripts.imageRelease.Run(ctx, e.rdb, []string{key}, claim, keep.Milliseconds()).Err(); err != nil && !isNil(err) {
		// The claim expires by itself.
		e.log.Warn("scanlogin: release scene image claim", "err", err)
	}
}

func finalSceneErr(s *Scene) error {
	switch {
	case s.State == StateExpired:
		return ErrSceneExpired
	case s.State.Final():
		return ErrSceneFinal
	}
	return nil
}

func (e *Engine) imageClaimKey(id string) string { return e.kp + "{" + id + "}:imgclaim" }

// imageReadLua: KEYS scene, image, claim; ARGV claim value, claim TTL ms.
// Reply nil (no scene), {'image', scene, image}, {'claimed', scene} (the
// caller makes the image) or {'wait', scene}.
const imageReadLua = `
local sc = redis.call('GET', KEYS[1])
if not sc then return false end
local img = redis.call('GET', KEYS[2])
if img then return {'image', sc, img} end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'claimed', sc} end
return {'wait', sc}
`

// imageStoreLua: KEYS scene, image, claim; ARGV claim value, image. Stores
// the image for the scene's remaining lifetime unless one is there, frees
// the claim, and replies the stored image (nil when the scene is gone).
const imageStoreLua = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return false end
redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ttl)
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return redis.call('GET', KEYS[2])
`

// imageReleaseLua: KEYS claim; ARGV claim value, keep ms (0: delete now).
const imageReleaseLua = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
`
