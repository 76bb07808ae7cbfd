package minerbench

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/analysis"
	"github.com/minerbench/minerbench/minerbench/dendrite"
	"github.com/minerbench/minerbench/minerbench/history"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// liveHeap returns the bytes of live heap objects, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// recordingMemory records perWorker queries through each of conc workers of
// a closed or an open loop, as the loops do, and returns the live heap bytes
// the workers and the run's summaries hold once the workers have finished.
func recordingMemory(t *testing.T, conc int, open bool) int64 {
	t.Helper()
	const perWorker = 3
	w, err := history.Open(filepath.Join(t.TempDir(), "queries.csv"), false)
	require.NoError(t, err)
	defer w.Abort()
	r := &queryRun{load: Load{Conc: conc}, clients: make([]*dendrite.Dendrite, conc), w: w, summary: &analysis.Summary{},
		info: history.RunInfo{NProcesses: conc, Start: time.Unix(0, 0)}}
	before := liveHeap()
	finish := make([]func(), conc) // keeps the workers alive
	for i := range conc {
		latency := func(j int) time.Duration { return time.Duration(i*perWorker+j+1) * time.Microsecond }
		end := func(j int) time.Time { return time.Unix(int64(j), 0) }
		if open {
			if r.open == nil {
				r.open = &openStats{}
			}
			ow := r.newOpenWorker(i)
			for j := range perWorker {
				ow.recordSent(latency(j))
				ow.record(wire.ReturnCode_Success, latency(j), end(j))
			}
			finish[i] = ow.finish
		} else {
			wk := r.newWorker(i)
			for j := range perWorker {
				wk.record(wire.ReturnCode_Success, latency(j), end(j))
			}
			finish[i] = wk.finish
		}
	}
	for _, f := range finish {
		f()
	}
	held := int64(liveHeap()) - int64(before)
	runtime.KeepAlive(finish)
	require.NoError(t, r.writeErr())
	assert.Equal(t, int64(conc*perWorker), r.summary.Count())
	assert.Equal(t, time.Duration(conc*perWorker)*time.Microsecond, r.summary.Latency().Max())
	if open {
		assert.Equal(t, int64(conc*perWorker), r.open.uncorrected.Count())
	}
	return held
}

// TestRecordingMemoryBounded checks that what a run holds to record its
// queries does not grow with the number of workers beyond their record
// buffers: the summaries and their HDR histograms (about 270 KiB each) are
// one per run, not one per worker. Before, -mb.conc 1024 held about 290 MB
// in the closed loop (a summary per worker; two in the open loop).
func TestRecordingMemoryBounded(t *testing.T) {
	// Per worker: its record buffers (two in the open loop) and some change.
	buffer := int64(flushEvery * unsafe.Sizeof(history.Record{}))
	for _, open := range []bool{false, true} {
		name := "closed loop"
		buffers := int64(1)
		if open {
			name, buffers = "open loop", 2
		}
		t.Run(name, func(t *testing.T) {
			one := recordingMemory(t, 1, open)
			many := recordingMemory(t, 1024, open)
			t.Logf("live heap while recording: conc 1: %d bytes, conc 1024: %d bytes (%.1f MB)", one, many, float64(many)/1e6)
			perWorker := buffers*buffer + 2048
			assert.LessOrEqual(t, many, one+1024*perWorker,
				"conc 1024 holds more than conc 1 plus %d bytes per worker", perWorker)
		})
	}
}
