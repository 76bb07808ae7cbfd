package minerbench

import (
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
