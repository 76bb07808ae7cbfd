package load

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// waitBound bounds a wait for something that happens at once on an idle
// machine; only a broken loop reaches it.
const waitBound = time.Minute

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestClosedLoop runs n queries from three workers: each is recorded once,
// with its outcome and its latency as Time, answered after its latency
// since the start; worker i numbers its queries i, i+1, i+2, ….
func TestClosedLoop(t *testing.T) {
	const n, conc = 100, 3
	var (
		mu    sync.Mutex
		calls int
		seqs  [conc][]int // of each worker
	)
	clients := make([]Client, conc)
	for i := range clients {
		clients[i] = &fakeClient{answer: func(_ context.Context, _ int64, seq int) Outcome {
			mu.Lock()
			defer mu.Unlock()
			seqs[i] = append(seqs[i], seq)
			if calls++; calls%10 == 0 {
				return Outcome{Code: codeRefused}
			}
			return ok()
		}}
	}
	sink := &memSink{}
	start := time.Now()
	stats, err := Send(t.Context(), Config{Timeout: time.Minute, Start: start}, clients, newCounter(n), sink)
	require.NoError(t, err)

	recs := sink.records()
	require.Len(t, recs, n)
	assert.Equal(t, n, calls, "one query per record")
	refused := 0
	for i, rec := range recs {
		assert.Equal(t, rec.Latency, rec.Time, "record %d: the closed loop records the client's latency", i)
		assert.GreaterOrEqual(t, rec.Elapsed, rec.Time, "record %d", i)
		assert.LessOrEqual(t, rec.Elapsed, time.Since(start), "record %d", i)
		assert.False(t, rec.Dropped)
		if rec.Code == codeRefused {
			refused++
			assert.False(t, rec.OK)
		}
	}
	assert.Equal(t, n/10, refused)
	assert.Equal(t, int64(n), stats.Recorded)
	assert.Equal(t, int64(n-n/10), stats.Succeeded)
	assert.Nil(t, stats.Open, "no open-loop figures")
	for i, got := range seqs {
		var want []int
		for j := range got {
			want = append(want, i+j)
		}
		assert.Equal(t, want, got, "worker %d's query numbers", i)
	}
}

// TestWarmUpNotRecorded checks that WarmUp's queries reach the server, are
// bounded by the timeout and are not recorded by the Send that follows.
func TestWarmUpNotRecorded(t *testing.T) {
	const warmup, n, conc = 3, 10, 2
	c := &fakeClient{answer: func(ctx context.Context, k int64, _ int) Outcome {
		if k == 1 {
			return hang(ctx) // cut by the timeout
		}
		return ok()
	}}
	clients := c.clients(conc)
	WarmUp(t.Context(), clients, warmup, 10*time.Millisecond)
	assert.Equal(t, int64(warmup*conc), c.calls.Load())
	sink := &memSink{}
	stats, err := Send(t.Context(), Config{Timeout: time.Minute}, clients, newCounter(n), sink)
	require.NoError(t, err)
	assert.Equal(t, int64(warmup*conc+n), c.calls.Load())
	assert.Len(t, sink.records(), n, "only the timed queries are recorded")
	assert.Equal(t, int64(n), stats.Succeeded)
}

// TestDelay checks the pause after each query: consecutive answers of one
// worker are at least the delay apart.
func TestDelay(t *testing.T) {
	const n, delay = 5, 20 * time.Millisecond
	c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return ok() }}
	sink := &memSink{}
	_, err := Send(t.Context(), Config{Timeout: time.Minute, Delay: delay}, c.clients(1), newCounter(n), sink)
	require.NoError(t, err)
	recs := sink.records()
	require.Len(t, recs, n)
	for i := 1; i < n; i++ {
		assert.GreaterOrEqual(t, recs[i].Elapsed-recs[i-1].Elapsed, delay, "record %d", i)
	}
}

// TestDelayEndsOnInterrupt interrupts a run while its worker pauses for an
// hour after a query: the pause ends with the run.
func TestDelayEndsOnInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wrote := make(chan int, 1)
	c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return ok() }}
	sink := &memSink{wrote: wrote}
	ended := make(chan error, 1)
	go func() {
		_, err := Send(ctx, Config{Timeout: time.Minute, Delay: time.Hour, FlushInterval: time.Millisecond}, c.clients(1), newCounter(10), sink)
		ended <- err
	}()
	select {
	case <-wrote: // the first query is recorded: the pause has begun
	case <-time.After(waitBound):
		t.Fatal("the query was not recorded")
	}
	cancel()
	select {
	case err := <-ended:
		require.NoError(t, err)
	case <-time.After(waitBound):
		t.Fatal("the pause after a query did not end with the run")
	}
	assert.Len(t, sink.records(), 1)
	assert.Equal(t, int64(1), c.calls.Load())
}

// Both loops: a run that is interrupted, and one with timeouts.
var loops = []struct {
	name string
	rate float64
}{{"closed", 0}, {"open", 1000}}

// TestInterrupted interrupts a run of two workers once both wait for a
// server that has answered five queries and answers no more: the answered
// queries are recorded, the ones the interruption cut are not, and the run
// ends.
func TestInterrupted(t *testing.T) {
	const conc, answered = 2, 5
	for _, loop := range loops {
		t.Run(loop.name, func(t *testing.T) {
			ctx, interrupt := context.WithCancel(t.Context())
			defer interrupt()
			inFlight := make(chan struct{}, conc)
			c := &fakeClient{answer: func(ctx context.Context, k int64, _ int) Outcome {
				if k <= answered {
					return ok()
				}
				inFlight <- struct{}{}
				return hang(ctx)
			}}
			go func() {
				for range conc {
					<-inFlight
				}
				interrupt()
			}()
			sink := &memSink{}
			stats, err := Send(ctx, Config{Timeout: time.Hour, Rate: loop.rate}, c.clients(conc), newCounter(1e6), sink)
			require.NoError(t, err)
			recs := sink.records()
			require.Len(t, recs, answered, "only the answered queries are recorded")
			for i, rec := range recs {
				assert.Equal(t, int32(codeOK), rec.Code, "record %d", i)
			}
			assert.Equal(t, int64(answered+conc), c.calls.Load())
			assert.Equal(t, int64(answered), stats.Recorded)
		})
	}
}

// TestTimeout checks the per-query timeout: a query the server does not
// answer is cut once its timeout has passed and recorded with the client's
// timeout code, and the worker's next query, on the same timer, is
// answered. In the open loop the queries are two timeouts apart, so none
// waits for the worker.
func TestTimeout(t *testing.T) {
	const timeout, n = 100 * time.Millisecond, 4
	for _, loop := range loops {
		t.Run(loop.name, func(t *testing.T) {
			c := &fakeClient{answer: func(ctx context.Context, k int64, _ int) Outcome {
				if k%2 == 1 {
					return hang(ctx)
				}
				return ok()
			}}
			rate := 0.0
			if loop.rate > 0 {
				rate = float64(time.Second) / float64(2*timeout)
			}
			sink := &memSink{}
			stats, err := Send(t.Context(), Config{Timeout: timeout, Rate: rate}, c.clients(1), newCounter(n), sink)
			require.NoError(t, err)
			recs := sink.records()
			require.Len(t, recs, n)
			for i, rec := range recs {
				if i%2 == 1 {
					assert.Equal(t, int32(codeOK), rec.Code, "record %d: the query after a cut one is answered", i)
					continue
				}
				assert.Equal(t, int32(codeTimeout), rec.Code, "record %d", i)
				assert.False(t, rec.Dropped, "record %d: sent, then cut", i)
				assert.GreaterOrEqual(t, rec.Time, timeout, "record %d: cut only once its timeout has passed", i)
			}
			if loop.rate > 0 {
				assert.Zero(t, stats.Open.Dropped)
			}
		})
	}
}

// TestOpenLoopStall runs an open loop at 1000 queries per second with one
// worker against a server that stalls for 100 ms at its 50th query. The
// schedule holds: every record's intended send time (Elapsed - Time) is on
// it. The queries due during the stall are sent after it, late, and their
// corrected latency (Time) carries their wait, which their uncorrected one
// (Outcome.Latency) does not. Only what holds by construction is asserted.
func TestOpenLoopStall(t *testing.T) {
	const n, rate, stall = 200, 1000, 100 * time.Millisecond
	interval := time.Second / rate
	c := &fakeClient{answer: func(_ context.Context, k int64, _ int) Outcome {
		if k == 50 {
			return okAfter(stall)
		}
		return ok()
	}}
	sink := &memSink{}
	stats, err := Send(t.Context(), Config{Timeout: time.Minute, Rate: rate}, c.clients(1), newCounter(n), sink)
	require.NoError(t, err)
	recs := sink.records()
	require.Len(t, recs, n)
	first := recs[0].Elapsed - recs[0].Time
	carried := 0
	for i, rec := range recs {
		assert.InDelta(t, float64(time.Duration(i)*interval), float64(rec.Elapsed-rec.Time-first), float64(time.Microsecond), "record %d: intended send time", i)
		assert.GreaterOrEqual(t, rec.Time, rec.Latency, "record %d: corrected at least uncorrected", i)
		if rec.Time >= stall/2 {
			carried++
		}
	}
	// Queries 51 to 100 were due at most 50 ms after query 50's send,
	// and were sent after its answer, 100 ms after that send.
	assert.GreaterOrEqual(t, carried, 50, "records whose corrected latency carries at least half the stall")
	require.NotNil(t, stats.Open)
	assert.Equal(t, int64(n), stats.Open.Uncorrected.Count())
	assert.GreaterOrEqual(t, stats.Open.Late, int64(50))
	assert.Zero(t, stats.Open.Dropped)
	assert.GreaterOrEqual(t, stats.Open.Uncorrected.Max(), stall, "the stalled query itself")
	t.Logf("uncorrected p99 %v (below the %v stall on a quiet machine: one query of %d stalled)", stats.Open.Uncorrected.Quantile(0.99), stall, n)
	assert.Positive(t, stats.Open.Achieved(time.Second))
}

// TestOpenLoopDrops runs a server that takes 20 ms a query at 1000 queries
// per second with one worker and a 100 ms timeout: the worker falls behind
// by 19 ms a query, so the queries whose timeout passes before it is free
// are dropped. Every scheduled query is still recorded once, the dropped
// ones with the timeout code and their wait.
func TestOpenLoopDrops(t *testing.T) {
	const n, timeout = 100, 100 * time.Millisecond
	c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return okAfter(20 * time.Millisecond) }}
	sink := &memSink{}
	stats, err := Send(t.Context(), Config{Timeout: timeout, Rate: 1000}, c.clients(1), newCounter(n), sink)
	require.NoError(t, err)
	recs := sink.records()
	require.Len(t, recs, n, "every scheduled query is recorded")
	o := stats.Open
	require.NotNil(t, o)
	assert.Positive(t, o.Dropped)
	assert.Equal(t, int64(n), o.Dropped+o.Uncorrected.Count(), "a query is sent or dropped")
	assert.Equal(t, c.calls.Load(), o.Uncorrected.Count(), "the uncorrected latencies are of the queries sent")
	dropped := 0
	for i, rec := range recs {
		if rec.Dropped {
			dropped++
			assert.Equal(t, int32(codeTimeout), rec.Code, "record %d", i)
			assert.False(t, rec.OK)
			assert.GreaterOrEqual(t, rec.Time, timeout, "record %d: dropped once its timeout had passed", i)
		}
	}
	assert.Equal(t, o.Dropped, int64(dropped))
	assert.Less(t, stats.Succeeded, int64(n))
}

// TestGoneStops checks that a run stops once an outcome shows the server
// gone, in both loops, and that outcome is recorded.
func TestGoneStops(t *testing.T) {
	for _, loop := range loops {
		t.Run(loop.name, func(t *testing.T) {
			c := &fakeClient{answer: func(_ context.Context, k int64, _ int) Outcome {
				if k >= 3 {
					return Outcome{Code: codeRefused}
				}
				return ok()
			}}
			src := newCounter(1e6)
			src.gone = func(o Outcome) bool { return o.Code == codeRefused }
			sink := &memSink{}
			_, err := Send(t.Context(), Config{Timeout: time.Minute, Rate: loop.rate}, c.clients(1), src, sink)
			require.NoError(t, err)
			codes := []int32{}
			for _, rec := range sink.records() {
				codes = append(codes, rec.Code)
			}
			assert.Equal(t, []int32{codeOK, codeOK, codeRefused}, codes)
		})
	}
}

// TestFailedWriteStops checks that the first failed write stops the run
// with its error, within a buffer of queries.
func TestFailedWriteStops(t *testing.T) {
	for _, loop := range loops {
		t.Run(loop.name, func(t *testing.T) {
			c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return ok() }}
			full := errors.New("disk full")
			rate := loop.rate * 100 // fast enough for a buffer in a few ms
			stats, err := Send(t.Context(), Config{Timeout: time.Minute, Rate: rate}, c.clients(1), newCounter(1e6), &memSink{fail: full})
			require.ErrorIs(t, err, full)
			assert.LessOrEqual(t, c.calls.Load(), int64(FlushEvery+1), "no query after the failed write")
			assert.Zero(t, stats.Recorded)
		})
	}
}

// TestFlushByAge checks that a record does not wait for a full buffer:
// with FlushInterval 20 ms, a worker answered every 5 ms writes its records
// in several batches, and the record of a query answered just before a
// query that hangs is written while that query hangs.
func TestFlushByAge(t *testing.T) {
	t.Run("after queries", func(t *testing.T) {
		c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return okAfter(5 * time.Millisecond) }}
		sink := &memSink{}
		_, err := Send(t.Context(), Config{Timeout: time.Minute, FlushInterval: 20 * time.Millisecond}, c.clients(1), newCounter(40), sink)
		require.NoError(t, err)
		recs := sink.records()
		require.Len(t, recs, 40)
		for i := 1; i < len(recs); i++ {
			assert.Greater(t, recs[i].Elapsed, recs[i-1].Elapsed, "record %d: in the order answered", i)
		}
		assert.GreaterOrEqual(t, len(sink.writes), 40*5/(20+5), "writes of %v records", sink.writes)
	})
	t.Run("stuck worker", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c := &fakeClient{answer: func(ctx context.Context, k int64, _ int) Outcome {
			if k == 2 {
				return hang(ctx) // until the test ends the run
			}
			return ok()
		}}
		wrote := make(chan int, 1)
		sink := &memSink{wrote: wrote}
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			_, _ = Send(ctx, Config{Timeout: time.Hour, FlushInterval: 20 * time.Millisecond}, c.clients(1), newCounter(10), sink)
		}()
		select {
		case n := <-wrote:
			assert.Equal(t, 1, n, "the first query's record")
			assert.Equal(t, int64(2), c.calls.Load(), "written while the second query hangs")
		case <-time.After(waitBound):
			t.Error("the record of the first query was not written while the second hung")
		}
		cancel()
		<-ended
	})
}

// TestConfigRefused checks that Send refuses a config it cannot run, naming
// the field and what is accepted.
func TestConfigRefused(t *testing.T) {
	c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return ok() }}
	_, err := Send(t.Context(), Config{Timeout: 0, Delay: -1, Rate: -1, FlushInterval: -1}, nil, newCounter(1), &memSink{})
	require.Error(t, err)
	for _, want := range []string{
		"load: 0 clients: want one or more",
		"load: Config.Timeout 0s: want a positive duration",
		"load: Config.Delay -1ns: want 0 or more",
		"load: Config.Rate -1: want 0 (closed loop) or queries per second",
		"load: Config.FlushInterval -1ns: want 0 (the default) or more",
	} {
		assert.ErrorContains(t, err, want)
	}
	assert.Zero(t, c.calls.Load())
}

// TestAllocationsPerQuery checks that the hot path allocates nothing per
// query: a run's allocations, a few per worker, do not grow with its
// queries.
func TestAllocationsPerQuery(t *testing.T) {
	c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return ok() }}
	allocs := func(n int64) float64 {
		return testing.AllocsPerRun(3, func() {
			_, err := Send(context.Background(), Config{Timeout: time.Minute}, c.clients(2), newCounter(n), &memSink{})
			require.NoError(t, err)
		})
	}
	few, many := allocs(10), allocs(10000)
	t.Logf("allocations of a run: %v of 10 queries, %v of 10000", few, many)
	// memSink's own slice grows about 20 times over 10000 records.
	assert.Less(t, many-few, 100.0, "allocations grow with the queries")
}

// TestProgressCounts checks that Config.Progress counts the recorded
// queries.
func TestProgressCounts(t *testing.T) {
	var done atomic.Int64
	c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return ok() }}
	_, err := Send(t.Context(), Config{Timeout: time.Minute, Progress: &done}, c.clients(2), newCounter(30), &memSink{})
	require.NoError(t, err)
	assert.Equal(t, int64(30), done.Load())
}

// TestExtras checks that Stats sums what a protocol tells beside its
// answers, and only what it tells: a 2.0.x outcome, without extras, counts
// in none of them.
func TestExtras(t *testing.T) {
	c := &fakeClient{answer: func(_ context.Context, k int64, _ int) Outcome {
		o := ok()
		switch k % 3 {
		case 1:
			o.Extra = Extra{Server: time.Duration(k) * time.Millisecond}
		case 2:
			o.Extra = Extra{FirstByte: time.Millisecond, Chunks: 4, Bytes: 100}
		}
		return o
	}}
	stats, err := Send(t.Context(), Config{Timeout: time.Minute}, c.clients(1), newCounter(9), &memSink{})
	require.NoError(t, err)
	assert.Equal(t, int64(3), stats.Server.Count())
	assert.Equal(t, 7*time.Millisecond, stats.Server.Max())
	assert.Equal(t, int64(3), stats.FirstByte.Count())
	assert.Equal(t, int64(3), stats.Streamed)
	assert.Equal(t, int64(12), stats.Chunks)
	assert.Equal(t, int64(300), stats.Bytes)
}

// liveHeap returns the bytes of live heap objects, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapSink measures the live heap at its last write, when every worker
// still holds its buffer.
type heapSink struct {
	left atomic.Int64 // records to come
	heap uint64
}

func (s *heapSink) Write(recs []Record) error {
	if s.left.Add(-int64(len(recs))) == 0 {
		s.heap = liveHeap()
	}
	return nil
}

// TestRecordingMemoryBounded checks that what a run holds to record its
// queries does not grow with the number of workers beyond their record
// buffers: the figures and their HDR histograms (about 270 KiB each) are
// one per run, not one per worker.
func TestRecordingMemoryBounded(t *testing.T) {
	buffer := int64(FlushEvery * unsafe.Sizeof(Record{}))
	for _, loop := range loops {
		t.Run(loop.name, func(t *testing.T) {
			held := func(conc int) int64 {
				c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return ok() }}
				const perWorker = 3
				sink := &heapSink{}
				sink.left.Store(int64(conc * perWorker))
				before := liveHeap()
				// A long flush interval: each worker's records stay in its
				// buffer until it finishes.
				_, err := Send(t.Context(), Config{Timeout: time.Minute, Rate: loop.rate * 100, FlushInterval: time.Hour},
					c.clients(conc), newCounter(int64(conc*perWorker)), sink)
				require.NoError(t, err)
				return int64(sink.heap) - int64(before)
			}
			one, many := held(1), held(1024)
			t.Logf("live heap while recording: conc 1: %d bytes, conc 1024: %d bytes (%.1f MB)", one, many, float64(many)/1e6)
			perWorker := buffer + 2048
			assert.LessOrEqual(t, many, one+1024*perWorker, "conc 1024 holds more than conc 1 plus %d bytes per worker", perWorker)
		})
	}
}

// BenchmarkLoop measures what the loops cost per query beside the client:
// a client that answers at once, a sink that keeps nothing.
func BenchmarkLoop(b *testing.B) {
	for _, loop := range []struct {
		name string
		rate float64
	}{{"closed", 0}, {"open", 1e9}} {
		b.Run(loop.name, func(b *testing.B) {
			b.ReportAllocs()
			c := &fakeClient{answer: func(context.Context, int64, int) Outcome { return ok() }}
			_, err := Send(b.Context(), Config{Timeout: time.Minute, Rate: loop.rate}, c.clients(1), loopSource{b}, discard{})
			require.NoError(b, err)
		})
	}
}

// loopSource hands out b.Loop's queries.
type loopSource struct{ b *testing.B }

func (s loopSource) Next() bool      { return s.b.Loop() }
func (loopSource) Gone(Outcome) bool { return false }

// discard is a Sink that keeps nothing.
type discard struct{}

func (discard) Write([]Record) error { return nil }
