package launch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOrphanBuildDirsRemoved checks that a run removes the build directories
// whose owner process has ended, and only those.
func TestOrphanBuildDirsRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ended := exec.Command("true")
	require.NoError(t, ended.Run())
	dead := strconv.Itoa(ended.Process.Pid)
	keep := []string{
		BuildDirPrefix + strconv.Itoa(os.Getpid()) + "-1", // its owner runs
		BuildDirPrefix + "12345",                          // not this form
		"other-" + dead + "-1",
	}
	gone := []string{BuildDirPrefix + dead + "-1", BuildDirPrefix + dead + "-2"}
	for _, d := range append(keep, gone...) {
		require.NoError(t, os.MkdirAll(filepath.Join(tmp, d, "inside"), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(tmp, BuildDirPrefix+dead+"-file"), nil, 0o644))
	keep = append(keep, BuildDirPrefix+dead+"-file")

	dir, err := NewBuildDir()
	require.NoError(t, err)
	assert.Equal(t, tmp, filepath.Dir(dir))
	assert.True(t, strings.HasPrefix(filepath.Base(dir), BuildDirPrefix+strconv.Itoa(os.Getpid())+"-"), dir)
	for _, d := range keep {
		_, err := os.Stat(filepath.Join(tmp, d))
		assert.NoError(t, err, "kept")
	}
	for _, d := range gone {
		assert.NoDirExists(t, filepath.Join(tmp, d), "removed: its owner has ended")
	}
}
