package server_test

import (
	"os"
	"testing"

	"github.com/scanlogin/scanlogin/scanlogin/sqlstore/sqlstoretest"
)

// TestMain stops the private PostgreSQL that the tests about several
// instances or durability share (sqlstoretest.Database).
func TestMain(m *testing.M) { os.Exit(sqlstoretest.Main(m)) }
