package miner

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStandaloneUsageExplainsSettings checks a miner binary's -h: every
// setting with its default, and beside each of the runtime's what it means,
// 0 of axon.workers and axon.queue included.
func TestStandaloneUsageExplainsSettings(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runStandalone(plainMiner{}, []string{"-h"}, &stdout, &stderr, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.ErrorIs(t, err, flag.ErrHelp)
	usage := stderr.String()
	assert.Regexp(t, `(?m)^  axon\.workers=0 +calls the forward function runs at once \(0: 10, Bittensor's axon\.max_workers\)$`, usage)
	assert.Regexp(t, `(?m)^  axon\.queue=0 +calls that may wait for a worker; more are answered NucleusFull \(0: 100\)$`, usage)
	for k, v := range RuntimeDefaults() {
		assert.NotEmpty(t, runtimeNotes[k], "no note for %s", k)
		assert.Contains(t, usage, "  "+k+"="+v+" ", "the default of %s", k)
	}
	for line := range strings.Lines(usage) {
		assert.Equal(t, strings.TrimRight(line, " \n"), strings.TrimSuffix(line, "\n"), "trailing spaces")
	}
	assert.Empty(t, stdout.String())
}
