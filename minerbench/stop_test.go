package minerbench

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

// TestStopWhileStarting checks the order in which stop ends what start
// started, and that something started once stop has begun is stopped at
// once: a miner whose launch completes after an interrupt.
func TestStopWhileStarting(t *testing.T) {
	h := newHarness(t.Context(), defaultConfig())
	var order []string
	record := func(name string) func() { return func() { order = append(order, name) } }
	require.True(t, h.atStop(record("chain")))
	require.True(t, h.atStop(record("build directory")))
	require.True(t, h.atStopMiner(record("miner")))
	h.stop()
	assert.Equal(t, []string{"miner", "build directory", "chain"}, order)

	assert.False(t, h.atStopMiner(record("late miner")), "registered after stop")
	assert.False(t, h.atStop(record("late chain")), "registered after stop")
	assert.Equal(t, []string{"miner", "build directory", "chain", "late miner", "late chain"}, order, "run at once")
	h.stop()
	assert.Len(t, order, 5, "stop is idempotent")
}

// TestOrphanBuildDirsRemoved checks that a run removes the build directories
// whose owner process has ended, and only those.
func TestOrphanBuildDirsRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ended := exec.Command("true")
	require.NoError(t, ended.Run())
	dead := strconv.Itoa(ended.Process.Pid)
	keep := []string{
		buildDirPrefix + strconv.Itoa(os.Getpid()) + "-1", // its owner runs
		buildDirPrefix + "12345",                          // not this form
		"other-" + dead + "-1",
	}
	gone := []string{buildDirPrefix + dead + "-1", buildDirPrefix + dead + "-2"}
	for _, d := range append(keep, gone...) {
		require.NoError(t, os.MkdirAll(filepath.Join(tmp, d, "inside"), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(tmp, buildDirPrefix+dead+"-file"), nil, 0o644))
	keep = append(keep, buildDirPrefix+dead+"-file")

	dir, err := newBuildDir()
	require.NoError(t, err)
	assert.Equal(t, tmp, filepath.Dir(dir))
	assert.True(t, strings.HasPrefix(filepath.Base(dir), buildDirPrefix+strconv.Itoa(os.Getpid())+"-"), dir)
	for _, d := range keep {
		_, err := os.Stat(filepath.Join(tmp, d))
		assert.NoError(t, err, "kept")
	}
	for _, d := range gone {
		assert.NoDirExists(t, filepath.Join(tmp, d), "removed: its owner has ended")
	}
}
