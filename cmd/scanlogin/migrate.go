package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
)

// migrateRedis is "scanlogin migrate-redis": it copies the users, the
// OpenID index and the avatars of a previous version's Redis (where users
// lived before the database) into the database, keeping every user's ID,
// and prints what it did. Running it again changes nothing.
func migrateRedis(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	e := &env{getenv: getenv}
	redisURL := e.secret("SCANLOGIN_REDIS_URL")
	dbURL := e.secret("SCANLOGIN_DATABASE_URL")
	appID := e.str("SCANLOGIN_WECHAT_APPID")
	if redisURL == "" {
		e.fail("SCANLOGIN_REDIS_URL", "required: the Redis of the previous version")
	}
	if dbURL == "" {
		e.fail("SCANLOGIN_DATABASE_URL", "required: the database to copy the users into")
	}
	if appID == "" {
		e.fail("SCANLOGIN_WECHAT_APPID", "required: the mini-program whose OpenIDs the previous version kept")
	}
	if err := errors.Join(e.errs...); err != nil {
		return fmt.Errorf("migrate-redis: %w", err)
	}
	rdb, err := app.OpenRedis(redisURL)
	if err != nil {
		return fmt.Errorf("migrate-redis: SCANLOGIN_REDIS_URL: %w", err)
	}
	defer rdb.Close()
	store, err := sqlstore.Open(ctx, dbURL, sqlstore.Config{})
	if err != nil {
		return fmt.Errorf("migrate-redis: SCANLOGIN_DATABASE_URL (%s): %w", app.DescribeDatabase(dbURL), err)
	}
	defer store.Close()
	c, err := store.MigrateRedis(ctx, sqlstore.RedisSource{Client: rdb, AppID: appID})
	fmt.Fprintf(stdout, "users copied: %d\navatars copied: %d\nalready there: %d\nconflicts (OpenID taken by another user, left alone): %d\nskipped (incomplete): %d\n",
		c.Users, c.Avatars, c.Unchanged, c.Conflicts, c.Skipped)
	if err != nil {
		return fmt.Errorf("migrate-redis: stopped early (run it again to go on): %w", err)
	}
	total, err := store.Counts(ctx)
	if err != nil {
		return fmt.Errorf("migrate-redis: count: %w", err)
	}
	fmt.Fprintf(stdout, "database now holds: %d users, %d identities, %d avatars\n", total.Users, total.Identities, total.Avatars)
	return nil
}
