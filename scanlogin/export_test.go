package scanlogin

import "testing"

// NewTestUsers opens a fresh user store for an engine test. It is set by
// users_ext_test.go: the store (package sqlstore) imports this package, so
// only the external test package may import it.
var NewTestUsers func(testing.TB) UserStore

// testUsers is the store newTestEngine gives an engine without one.
func testUsers(t testing.TB) UserStore {
	t.Helper()
	if NewTestUsers == nil {
		t.Fatal("NewTestUsers is not set")
	}
	return NewTestUsers(t)
}
