// Package heaptest measures the live heap for tests that bound what an
// attack on a server costs it.
package heaptest

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Slack is how far above its start the live heap may stay once an attack
// has ended.
const Slack = 4 << 20

// Live returns the bytes of live heap objects after two collections.
//
// The second collection empties the sync.Pool victim caches that servers
// keep buffers in, so that pooled buffers do not count as held.
func Live() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// Returns waits up to a minute until the live heap is within Slack of
// base, failing t if it never is.
func Returns(t *testing.T, base int64) {
	t.Helper()
	var last int64
	require.Eventually(t, func() bool {
		last = Live() - base
		return last < Slack
	}, time.Minute, 50*time.Millisecond, "the live heap returns within %d bytes of its start; last %d", Slack, last)
	t.Logf("live heap after the attack: %+d bytes from the start", last)
}
