package deploy

import (
	"os"
	"regexp"
	"testing"
)

// Every SCANLOGIN_ variable the server reads has a row in README.md's
// configuration table.
func TestREADMEConfigurationCoversEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variablesReadByServer(t) {
		if !regexp.MustCompile("(?m)^\\|[^\\n]*`" + v + "`[^\\n]*\\|").Match(readme) {
			t.Errorf("README.md's configuration table has no row for %s", v)
		}
	}
}
