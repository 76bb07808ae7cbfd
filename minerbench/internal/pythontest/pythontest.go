// Package pythontest finds a Python interpreter with a given module for
// tests that check this project against Python code, and skips them
// where there is none.
package pythontest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Env names a Python interpreter to try before any other.
const Env = "MINERBENCH_PYTHON"

// Find returns a Python interpreter that imports module: the one Env
// names, python3 on PATH (which may be a pyenv shim without Debian's
// modules), or Debian's /usr/bin/python3. It skips tb when none does,
// naming the Debian package that provides the module.
func Find(tb testing.TB, module, debianPackage string) string {
	tb.Helper()
	var tried []string
	for _, p := range []string{os.Getenv(Env), "python3", "/usr/bin/python3"} {
		if p == "" {
			continue
		}
		tried = append(tried, p)
		if exec.Command(p, "-c", "import "+module).Run() == nil {
			return p
		}
	}
	tb.Skipf("no Python with %s (tried %s): install it (Debian: apt-get install %s) or name one in %s",
		module, strings.Join(tried, ", "), debianPackage, Env)
	return ""
}
