package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisSource names the Redis of the previous version, which kept users
// under <prefix>user:{<id>} (a hash: id, oid, unid, nick, avatar, phone,
// ca, ua in Unix ms, avid), the index <prefix>openid:{<openid>} -> id, and
// uploaded avatars under <prefix>avatar:{<id>} (content type, a zero
// byte, the image).
type RedisSource struct {
	Client redis.UniversalClient
	// KeyPrefix is the previous version's SCANLOGIN key prefix (default
	// "sl:").
	KeyPrefix string
	// AppID is the mini-program's AppID: the previous version's OpenIDs
	// were all of that one app.
	AppID string
}

// MigrateCounts is what MigrateRedis did.
type MigrateCounts struct {
	Users   int // users copied, each with its identity
	Avatars int // avatar images copied
	// Unchanged users were already here with the same ID (a run before).
	Unchanged int
	// Conflicts are OpenIDs that already belong to another user here (they
	// logged in on this version before the copy); they are left alone.
	Conflicts int
	// Skipped are keys that are not a complete user.
	Skipped int
}

// MigrateRedis copies users, their OpenID index and their avatars from a
// Redis of the previous version into the store, keeping every user's ID. It
// is idempotent: a user already here is left alone, so a second run changes
// nothing, and a run cut short can be run again. Users are copied one
// transaction each. Web sessions are not copied: they stay in Redis.
// Errors: scanlogin.ErrUnavailable, scanlogin.ErrOverloaded; a Redis error
// as it is.
func (s *Store) MigrateRedis(ctx context.Context, src RedisSource) (MigrateCounts, error) {
	if src.KeyPrefix == "" {
		src.KeyPrefix = "sl:"
	}
	if src.AppID == "" {
		return MigrateCounts{}, errors.New("sqlstore: migrate redis: the AppID is required")
	}
	var c MigrateCounts
	err := forEachKey(ctx, src.Client, src.KeyPrefix+"user:{*}", func(key string) error {
		id, ok := userKeyID(key, src.KeyPrefix)
		if !ok {
			return nil // user:{<id>}:sessions and the like
		}
		return s.migrateUser(ctx, src, id, &c)
	})
	return c, err
}

// forEachKey scans every master (all of a Cluster's), calling f for each
// key matching pattern.
func forEachKey(ctx context.Context, rdb redis.UniversalClient, pattern string, f func(string) error) error {
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			if err := f(it.Val()); err != nil {
				return err
			}
		}
		return it.Err()
	}
	switch c := rdb.(type) {
	case *redis.Client:
		return scan(ctx, c)
	case *redis.ClusterClient:
		var mu sync.Mutex // masters are scanned concurrently; f is not safe for that
		return c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			var keys []string
			it := m.Scan(ctx, 0, pattern, 1000).Iterator()
			for it.Next(ctx) {
				keys = append(keys, it.Val())
			}
			if err := it.Err(); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range keys {
				if err := f(k); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return fmt.Errorf("sqlstore: migrate redis: unsupported client %T", rdb)
}

// userKeyID returns <id> of <prefix>user:{<id>} exactly.
func userKeyID(key, prefix string) (string, bool) {
	id, ok := strings.CutPrefix(key, prefix+"user:{")
	if !ok {
		return "", false
	}
	id, ok = strings.CutSuffix(id, "}")
	return id, ok && validID(id)
}

func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func (s *Store) migrateUser(ctx context.Context, src RedisSource, id string, c *MigrateCounts) error {
	m, err := src.Client.HGetAll(ctx, src.KeyPrefix+"user:{"+id+"}").Result()
	if err != nil {
		return fmt.Errorf("sqlstore: migrate redis: read user %s: %w", id, err)
	}
	oid := m["oid"]
	if m["id"] != id || oid == "" {
		c.Skipped++
		return nil
	}
	// The previous version healed a user hash written before its index
	// (a crash between the two); only an index pointing here makes the
	// user whole.
	owner, err := src.Client.Get(ctx, src.KeyPrefix+"openid:{"+oid+"}").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("sqlstore: migrate redis: read openid index: %w", err)
	}
	if owner != id {
		c.Skipped++
		return nil
	}
	var av *Avatar
	if avid := m["avid"]; validID(avid) && strings.HasSuffix(m["avatar"], "/avatars/"+avid) {
		// Only the upload the profile shows is worth keeping; others were
		// orphans already.
		b, err := src.Client.Get(ctx, src.KeyPrefix+"avatar:{"+avid+"}").Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return fmt.Errorf("sqlstore: migrate redis: read avatar %s: %w", avid, err)
		default:
			ct, data := unpackBlob(b)
			sum := sha256.Sum256(data)
			av = &Avatar{ID: avid, ContentType: ct, Data: data, SHA256: hex.EncodeToString(sum[:])}
		}
	}
	created := msValue(m["ca"])
	updated := msValue(m["ua"])
	if created == 0 {
		created = updated
	}
	if updated == 0 {
		updated = created
	}
	if created == 0 {
		created = ms(s.now())
		updated = created
	}
	// The previous version set a phone only from WeChat's getPhoneNumber,
	// so it was verified; when is unknown, the last update is the best
	// guess.
	verified := sql.NullInt64{Int64: updated, Valid: m["phone"] != ""}
	return s.call(ctx, OpImportUser, func(ctx context.Context) error {
		return s.tx(ctx, func(tx *sql.Tx) error {
			var have string
			err := tx.QueryRowContext(ctx, `SELECT user_id FROM identities WHERE app_id = $1 AND open_id = $2`,
				src.AppID, oid).Scan(&have)
			switch {
			case err == nil && have == id:
				c.Unchanged++
				return nil
			case err == nil:
				c.Conflicts++
				s.log.Warn("migrate redis: openid already belongs to another user; left alone", "user_id", id, "existing_user_id", have)
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO users (id, nickname, avatar_url, phone, phone_verified_at, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
				id, m["nick"], m["avatar"], m["phone"], verified, created, updated)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				// The ID is taken by a user without this identity: not ours
				// to merge.
				c.Conflicts++
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO identities (app_id, open_id, union_id, user_id, created_at)
				VALUES ($1, $2, $3, $4, $5)`, src.AppID, oid, m["unid"], id, created); err != nil {
				return err
			}
			if av != nil {
				if _, err := tx.ExecContext(ctx, `INSERT INTO avatars (id, user_id, content_type, data, sha256, created_at, claimed_at)
					VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING`,
					av.ID, id, av.ContentType, av.Data, av.SHA256, updated); err != nil {
					return err
				}
				c.Avatars++
			}
			c.Users++
			return nil
		})
	})
}

func msValue(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

// unpackBlob reads the previous version's "<content type>\x00<bytes>".
func unpackBlob(b []byte) (string, []byte) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:]
		}
	}
	return "application/octet-stream", b
}
