package sqlstore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the import arrows one way: the store knows
// neither HTTP, WeChat nor Prometheus, and the domain does not know it.
func TestImports(t *testing.T) {
	for pkg, banned := range map[string][]string{
		"github.com/scanlogin/scanlogin/scanlogin/sqlstore": {"github.com/scanlogin/scanlogin/server", "github.com/scanlogin/scanlogin/wxapi",
			"github.com/scanlogin/scanlogin/web", "github.com/labstack/echo", "github.com/prometheus"},
		"github.com/scanlogin/scanlogin/scanlogin": {"github.com/scanlogin/scanlogin/scanlogin/sqlstore", "github.com/jackc/pgx", "modernc.org/sqlite"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}
