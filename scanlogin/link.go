package scanlogin

import (
	"context"
	"fmt"
	"time"
)

// The URL Link of a scene ("open in WeChat" on a phone, README.md): made by
// WeChat at most once per scene and kept beside the scene, under its hash
// tag, for as long as the scene's key lives.

func (e *Engine) linkKey(id string) string      { return e.kp + "{" + id + "}:link" }
func (e *Engine) linkClaimKey(id string) string { return e.kp + "{" + id + "}:link:claim" }

// SceneLink returns the cached URL Link of a scene. Errors:
// ErrInvalidSceneID, ErrSceneNotFound (no link cached), ErrUnavailable.
func (e *Engine) SceneLink(ctx context.Context, id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("scanlogin: scene link: %w", ErrInvalidSceneID)
	}
	s, err := e.rdb.Get(ctx, e.linkKey(id)).Result()
	if isNil(err) {
		return "", fmt.Errorf("scanlogin: scene link %s: %w", id, ErrSceneNotFound)
	}
	if err != nil {
		return "", e.storeErr("scene link", err)
	}
	return s, nil
}

// PutSceneLink caches the URL Link of a scene for as long as the scene's
// key lives. Errors: ErrInvalidSceneID, ErrSceneNotFound, ErrUnavailable.
func (e *Engine) PutSceneLink(ctx context.Context, id, link string) error {
	if !validID(id) {
		return fmt.Errorf("scanlogin: put scene link: %w", ErrInvalidSceneID)
	}
	ok, err := e.scripts.putImage.Run(ctx, e.rdb, []string{e.sceneKey(id), e.linkKey(id)}, link).Int()
	if err != nil {
		return e.storeErr("put scene link", err)
	}
	if ok == 0 {
		return fmt.Errorf("scanlogin: put scene link %s: %w", id, ErrSceneNotFound)
	}
	return nil
}

// ClaimSceneLink makes this caller the one that asks WeChat for the scene's
// link, for ttl: true for exactly one caller across instances until the
// claim lapses. The others wait for SceneLink.
func (e *Engine) ClaimSceneLink(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if !validID(id) {
		return false, fmt.Errorf("scanlogin: claim scene link: %w", ErrInvalidSceneID)
	}
	ok, err := e.rdb.SetNX(ctx, e.linkClaimKey(id), "1", ttl).Result()
	if err != nil {
		return false, e.storeErr("claim scene link", err)
	}
	return ok, nil
}
