//go:build unix

package launch_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/chaintest"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/internal/proctest"
)

// starter returns a Starter on a chain of its own, whose start timeout is
// an hour: only the launch timeout, or the miner, can end a start.
func starter(t *testing.T, launchTimeout time.Duration, logLimit int64) launch.Starter {
	ch, endpoint := chaintest.Serve(t, chain.Config{})
	return launch.Starter{Chain: ch, ChainEndpoint: endpoint, LaunchTimeout: launchTimeout, StartTimeout: time.Hour,
		LogLimit: logLimit, Own: func(func()) bool { return true }}
}

// startBounded runs s.Start for the plugin binary, its log in dir, and
// fails the test if it has not returned within endBound.
func startBounded(t *testing.T, s launch.Starter, binary, dir string) (*launch.Instance, error) {
	t.Helper()
	return bounded(t, "Start", func() (*launch.Instance, error) {
		return s.Start(context.Background(), "broken", binary, dir, launch.Overrides{})
	})
}

// TestStartLaunchTimeout starts a miner that never completes go-plugin's
// handshake: the start fails once the launch timeout has passed, long
// before the start timeout, naming the launch timeout and showing the
// miner's log, and the miner is gone.
func TestStartLaunchTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := writeScript(t, "silent-miner", "echo 'loading the model' >&2\necho $$ > '"+pidFile+"'\nexec sleep 3600\n")
	dir := t.TempDir()
	in, err := startBounded(t, starter(t, 2*time.Second, 0), script, dir)
	pid := readPidFile(t, pidFile)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "miner broken: did not complete go-plugin's handshake and answer Info within -mb.launch-timeout=2s: ")
	assert.NotContains(t, msg, "start-timeout")
	assert.Contains(t, msg, "last lines of the miner's log:\n    loading the model")
	assert.Nil(t, in.Process)
	assert.Empty(t, in.Defaults, "the miner told no settings")
	assert.True(t, proctest.Reaped(pid), "pid %d was not ended and reaped", pid)
	log, err := os.ReadFile(filepath.Join(dir, launch.LogFile))
	require.NoError(t, err)
	assert.Contains(t, string(log), "loading the model\n")
}

// TestStartLogLimit starts a miner that floods its log and exits: the log
// keeps the lines within the limit, then a marker; once the miner is gone,
// a second marker says how many lines were dropped, followed by the last
// of them.
func TestStartLogLimit(t *testing.T) {
	const (
		lines    = 5000
		lineSize = len("flood 00000 xxxxxxxxxx\n")
		kept     = 100
	)
	script := writeScript(t, "flooding-miner", fmt.Sprintf(`i=0
while [ $i -lt %d ]; do printf 'flood %%05d xxxxxxxxxx\n' $i; i=$((i+1)); done >&2
echo 'last words' >&2
exit 3
`, lines))
	dir := t.TempDir()
	_, err := startBounded(t, starter(t, endBound, kept*int64(lineSize)), script, dir)
	require.ErrorContains(t, err, "(miner exit status 3)")
	assert.Contains(t, err.Error(), "    last words", "the error shows the log's last lines")

	log, err := os.ReadFile(filepath.Join(dir, launch.LogFile))
	require.NoError(t, err)
	got := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
	require.Regexp(t, `^=== \S+ minerbench: launching miner broken `, got[0])
	got = got[1:]
	require.Len(t, got, kept+2+20, "the kept lines, two markers and the last 20 lines")
	for i, l := range got[:kept] {
		assert.Equal(t, fmt.Sprintf("flood %05d xxxxxxxxxx", i), l)
	}
	assert.Equal(t, fmt.Sprintf("=== minerbench: the miner's log reached its limit of %d bytes (-mb.log-limit): its further lines are dropped", kept*lineSize), got[kept])
	dropped := lines - kept + 1
	assert.Equal(t, fmt.Sprintf("=== minerbench: dropped %d lines (%d bytes) of the miner's log past its limit; the last 20 of them:", dropped, (lines-kept)*lineSize+len("last words\n")), got[kept+1])
	assert.Equal(t, fmt.Sprintf("flood %05d xxxxxxxxxx", lines-19), got[kept+2])
	assert.Equal(t, "last words", got[len(got)-1])
}
