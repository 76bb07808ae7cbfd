package minerbench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDelayEndsOnInterrupt interrupts a run while a worker pauses for
// -mb.delay after a query: the pause ends with the run, which is not kept
// waiting for the hour the delay asks.
func TestDelayEndsOnInterrupt(t *testing.T) {
	h, m := inProcess(t, t.TempDir(), "delay", time.Minute, zeros)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h.ctx = ctx
	clients, err := m.clients(ctx, 1)
	require.NoError(t, err)
	load, err := Load{Batch: 1, Block: 1, Delay: time.Hour}.normalize()
	require.NoError(t, err)
	run := &queryRun{h: h, m: m, load: load, inputs: makeTokenBatches(1, 1), clients: clients}
	wk := run.newWorker(0)
	stepped := make(chan bool, 1)
	go func() { stepped <- wk.step() }()

	// The query is recorded just before the pause begins.
	require.Eventually(t, func() bool { return run.done.Load() == 1 }, time.Minute, 10*time.Millisecond, "the query was not answered")
	cancel()
	select {
	case more := <-stepped:
		assert.False(t, more, "the step reports the interruption")
	case <-time.After(time.Minute):
		t.Fatal("the pause after a query did not end with the run")
	}
	wk.timer.release()
}

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
