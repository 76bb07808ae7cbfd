package pythontest

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFind finds a Python with a module every Python has, and that Python
// does import it.
func TestFind(t *testing.T) {
	p := Find(t, "json", "python3")
	require.NotEmpty(t, p)
	assert.NoError(t, exec.Command(p, "-c", "import json").Run())
}

// TestFindSkips skips for a module no Python has.
func TestFindSkips(t *testing.T) {
	skipped := false
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Find(t, "no_such_module_minerbench", "none")
	})
	assert.True(t, skipped)
}
