package scanlogin_test

import (
	"path/filepath"
	"testing"

	"github.com/scanlogin/scanlogin/scanlogin"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
)

// The engine's tests run on the real store, on SQLite in a temporary
// directory: users are the store's, and the store's own tests cover
// PostgreSQL.
func init() {
	scanlogin.NewTestUsers = func(tb testing.TB) scanlogin.UserStore {
		tb.Helper()
		s, err := sqlstore.Open(tb.Context(), "sqlite://"+filepath.Join(tb.TempDir(), "users.db"), sqlstore.Config{})
		if err != nil {
			tb.Fatalf("open user store: %v", err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}
}
