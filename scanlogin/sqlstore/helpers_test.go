package sqlstore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
	"github.com/scanlogin/scanlogin/scanlogin/sqlstore/sqlstoretest"
)

func TestMain(m *testing.M) { os.Exit(sqlstoretest.Main(m)) }

// backends are the databases every store test runs on.
var backends = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"postgres", func(t *testing.T) string { return sqlstoretest.Database(t) }},
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "scanlogin.db") }},
}

// eachBackend runs f on a fresh, migrated store of every backend.
func eachBackend(t *testing.T, cfg sqlstore.Config, f func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f(t, open(t, b.url(t), cfg))
		})
	}
}

func open(t *testing.T, url string, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), url, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ptr[T any](v T) *T { return &v }
