package fault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/miner"
)

// settings returns the defaults overridden by kv pairs.
func settings(t *testing.T, kv ...string) miner.Settings {
	t.Helper()
	s := Defaults()
	for i := 0; i+1 < len(kv); i += 2 {
		require.Contains(t, s, kv[i], "a setting the miner has")
		s[kv[i]] = kv[i+1]
	}
	return s
}

// injector parses kv over the defaults and returns an Injector whose exit
// codes and log are recorded.
func injector(t *testing.T, kv ...string) (*Injector, *[]int, *syncBuffer) {
	t.Helper()
	cfg, err := Parse(settings(t, kv...))
	require.NoError(t, err)
	var exits []int
	logw := &syncBuffer{}
	return New(cfg, func(code int) { exits = append(exits, code) }, logw), &exits, logw
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var input = miner.FromInt64([]int64{2, 3}, []int64{1, 2, 3, 4, 5, 6})

// outcome runs one query and names how it ended: "ok", "panic", the
// CodeError's code, or the error.
func outcome(ctx context.Context, in *Injector) (out string) {
	defer func() {
		if p := recover(); p != nil {
			out = "panic"
		}
	}()
	res, err := in.Forward(ctx, input)
	if ce, ok := errors.AsType[*miner.CodeError](err); ok {
		return ce.Code.String()
	}
	if err != nil {
		return err.Error()
	}
	if len(res.Shape) != 3 || res.Shape[0] != 2 || res.Shape[1] != 3 || res.Shape[2] != miner.NetworkDim {
		return fmt.Sprintf("shape %v", res.Shape)
	}
	return "ok"
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse(Defaults())
	require.NoError(t, err)
	assert.Equal(t, Config{Dist: Fixed, Every: 1, ExitCode: 1, Register: RegisterNormal}, cfg)
}

func TestParseRefusesBadValues(t *testing.T) {
	tests := []struct {
		key, value string
		want       string
	}{
		{KeyLatency, "soon", `setting flaky.latency="soon": want a non-negative duration`},
		{KeyLatency, "-1s", `setting flaky.latency="-1s": want a non-negative duration`},
		{KeyLatencyDist, "normal", `setting flaky.latency_dist="normal": want fixed, uniform or exponential`},
		{KeySeed, "-1", `setting flaky.seed="-1": want an unsigned 64-bit integer`},
		{KeyCode, "Fine", `setting flaky.code="Fine": want a return code name such as NucleusFull, or its number`},
		{KeyCode, "99", `setting flaky.code="99": want a return code name`},
		{KeyCode, "Success", `setting flaky.code="Success": want a return code other than Success`},
		{KeyCode, "1", `setting flaky.code="1": want a return code other than Success`},
		{KeyEvery, "0", `setting flaky.every="0": want an integer from 1 to 1073741824`},
		{KeyPanicEvery, "-2", `setting flaky.panic_every="-2": want an integer from 0 to 1073741824`},
		{KeyHangEvery, "x", `setting flaky.hang_every="x": want an integer from 0`},
		{KeyExitAfter, "1.5", `setting flaky.exit_after="1.5": want an integer from 0`},
		{KeyExitCode, "300", `setting flaky.exit_code="300": want an integer from 0 to 125`},
		{KeyRegister, "sometimes", `setting flaky.register="sometimes": want normal, never, unspecified or late`},
		{KeyStartDelay, "5", `setting flaky.start_delay="5": want a non-negative duration`},
		{KeyLog, "maybe", `setting flaky.log="maybe": want true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			_, err := Parse(settings(t, tt.key, tt.value))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	t.Run("all at once", func(t *testing.T) {
		_, err := Parse(settings(t, KeyEvery, "0", KeyRegister, "x"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), KeyEvery)
		assert.Contains(t, err.Error(), KeyRegister)
	})
}

func TestParseCodes(t *testing.T) {
	for _, v := range []string{"NucleusFull", "18", " 18 "} {
		cfg, err := Parse(settings(t, KeyCode, v))
		require.NoError(t, err, v)
		assert.True(t, cfg.HasCode)
		assert.Equal(t, miner.NucleusFull, cfg.Code)
	}
	cfg, err := Parse(settings(t, KeyCode, "NoReturn"))
	require.NoError(t, err)
	assert.True(t, cfg.HasCode, "NoReturn (0) is a code, not the absence of one")
	assert.Equal(t, miner.NoReturn, cfg.Code)
}

// TestSchedules checks the outcome of each of the first 20 queries.
func TestSchedules(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want func(n int) string
	}{
		{"no faults", nil, func(int) string { return "ok" }},
		{"code every 4th", []string{KeyCode, "NucleusFull", KeyEvery, "4"}, func(n int) string {
			if n%4 == 0 {
				return "NucleusFull"
			}
			return "ok"
		}},
		{"code every query", []string{KeyCode, "Backoff"}, func(int) string { return "Backoff" }},
		{"panic every 5th", []string{KeyPanicEvery, "5"}, func(n int) string {
			if n%5 == 0 {
				return "panic"
			}
			return "ok"
		}},
		{"panic wins over code", []string{KeyPanicEvery, "3", KeyCode, "Timeout", KeyEvery, "2"}, func(n int) string {
			switch {
			case n%3 == 0:
				return "panic"
			case n%2 == 0:
				return "Timeout"
			}
			return "ok"
		}},
		{"exit after 7", []string{KeyExitAfter, "7", KeyPanicEvery, "7"}, func(n int) string {
			switch {
			case n > 7:
				return errExited.Error()
			case n == 7:
				return "panic"
			}
			return "ok"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _, _ := injector(t, tt.kv...)
			for n := 1; n <= 20; n++ {
				assert.Equal(t, tt.want(n), outcome(context.Background(), in), "query %d", n)
			}
			assert.Equal(t, int64(20), in.Queries())
		})
	}
}

// TestHang checks that a hanging query answers only once its context ends,
// with the context's error, and that the other queries are not held.
func TestHang(t *testing.T) {
	in, _, _ := injector(t, KeyHangEvery, "3")
	for n := 1; n <= 2; n++ {
		assert.Equal(t, "ok", outcome(context.Background(), in))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string)
	go func() { done <- outcome(ctx, in) }()
	require.Eventually(t, func() bool { return in.Queries() == 3 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, "ok", outcome(context.Background(), in), "query 4 is answered while query 3 hangs")
	select {
	case got := <-done:
		t.Fatalf("query 3 answered %q before its context ended", got)
	default:
	}
	cancel()
	assert.Equal(t, context.Canceled.Error(), <-done)

	expired, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	assert.Equal(t, "ok", outcome(expired, in), "query 5: no latency, so answered")
	assert.Equal(t, context.DeadlineExceeded.Error(), outcome(expired, in), "query 6 hangs until its context ends")
}

// TestConcurrentCounts checks that the schedule holds exactly under
// concurrent queries: the counter, not the arrival order, decides.
func TestConcurrentCounts(t *testing.T) {
	in, _, _ := injector(t, KeyCode, "NucleusFull", KeyEvery, "4", KeyPanicEvery, "10")
	const queries = 400
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range queries / 8 {
				got := outcome(context.Background(), in)
				mu.Lock()
				counts[got]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Multiples of 10 panic; of the rest, multiples of 4 answer the code.
	assert.Equal(t, map[string]int{"panic": 40, "NucleusFull": 80, "ok": 280}, counts)
}

func TestExit(t *testing.T) {
	in, exits, logw := injector(t, KeyExitAfter, "5", KeyExitCode, "7")
	for n := 1; n <= 5; n++ {
		require.Equal(t, "ok", outcome(context.Background(), in), "query %d", n)
	}
	assert.Empty(t, *exits)
	assert.Equal(t, errExited.Error(), outcome(context.Background(), in))
	assert.Equal(t, errExited.Error(), outcome(context.Background(), in))
	assert.Equal(t, []int{7}, *exits, "exit is asked once, with flaky.exit_code")
	assert.Equal(t, "flaky: query 6: exiting with status 7, as flaky.exit_after=5 asks\n", logw.String())
}

func TestLog(t *testing.T) {
	in, _, logw := injector(t, KeyLog, "true", KeyCode, "Backoff", KeyEvery, "2", KeyPanicEvery, "3")
	for range 3 {
		outcome(context.Background(), in)
	}
	assert.Equal(t, "flaky: query 1: Success\n"+
		"flaky: query 2: answering Backoff, as flaky.every=2 asks\n"+
		"flaky: query 3: panicking, as flaky.panic_every=3 asks\n", logw.String())

	quiet, _, logw := injector(t, KeyCode, "Backoff")
	outcome(context.Background(), quiet)
	assert.Empty(t, logw.String(), "queries are logged only with flaky.log=true")
}

func TestLatency(t *testing.T) {
	const mean = 10 * time.Millisecond
	t.Run("fixed", func(t *testing.T) {
		in, _, _ := injector(t, KeyLatency, "10ms")
		for n := range int64(100) {
			require.Equal(t, mean, in.Latency(n))
		}
	})
	for _, dist := range []Dist{Uniform, Exponential} {
		t.Run(string(dist), func(t *testing.T) {
			in, _, _ := injector(t, KeyLatency, "10ms", KeyLatencyDist, string(dist), KeySeed, "42")
			same, _, _ := injector(t, KeyLatency, "10ms", KeyLatencyDist, string(dist), KeySeed, "42")
			other, _, _ := injector(t, KeyLatency, "10ms", KeyLatencyDist, string(dist), KeySeed, "43")
			const n = 20000
			var sum time.Duration
			differ := 0
			for i := range int64(n) {
				d := in.Latency(i)
				require.Equal(t, d, same.Latency(i), "the same seed gives the same latency to query %d", i)
				if d != other.Latency(i) {
					differ++
				}
				require.GreaterOrEqual(t, d, time.Duration(0))
				if dist == Uniform {
					require.Less(t, d, 2*mean)
				}
				sum += d
			}
			assert.Greater(t, differ, n*9/10, "another seed gives other latencies")
			// The draws are fixed by the seed, so this bound is exact for
			// this seed; it would fail for a wrong mean.
			assert.InEpsilon(t, float64(mean), float64(sum/n), 0.03, "mean latency")
		})
	}
	t.Run("slept and cut by the context", func(t *testing.T) {
		in, _, _ := injector(t, KeyLatency, "1h")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.Equal(t, context.Canceled.Error(), outcome(ctx, in))
	})
}

// announcer records the axons announced and the announcements' contexts.
type announcer struct {
	mu     sync.Mutex
	axons  []miner.AxonInfo
	ctxErr []error
	done   chan struct{}
}

func newAnnouncer() *announcer { return &announcer{done: make(chan struct{}, 10)} }

func (a *announcer) announce(ctx context.Context, ax miner.AxonInfo) error {
	a.mu.Lock()
	a.axons = append(a.axons, ax)
	a.ctxErr = append(a.ctxErr, ctx.Err())
	a.mu.Unlock()
	a.done <- struct{}{}
	return nil
}

func TestRegister(t *testing.T) {
	reg := miner.AxonInfo{Hotkey: "5Hot", Coldkey: "5Cold", IP: "127.0.0.1", Port: 8091, IPType: 4}
	unspecified := reg
	unspecified.IP = "0.0.0.0"
	tests := []struct {
		mode string
		want []miner.AxonInfo
		log  string
	}{
		{"normal", []miner.AxonInfo{reg}, ""},
		{"never", nil, "flaky: not registering the axon, as flaky.register=never asks\n"},
		{"unspecified", []miner.AxonInfo{unspecified}, "flaky: registering the axon at the unspecified address 0.0.0.0, as flaky.register=unspecified asks\n"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			in, _, logw := injector(t, KeyRegister, tt.mode)
			a := newAnnouncer()
			require.NoError(t, in.Register(context.Background(), a.announce, reg))
			assert.Equal(t, tt.want, a.axons)
			assert.Equal(t, tt.log, logw.String())
		})
	}
	t.Run("late", func(t *testing.T) {
		in, _, logw := injector(t, KeyRegister, "late", KeyStartDelay, "1ms")
		a := newAnnouncer()
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, in.Register(ctx, a.announce, reg))
		cancel() // the host's Run call ends
		<-a.done
		assert.Equal(t, []miner.AxonInfo{reg}, a.axons)
		assert.Equal(t, []error{nil}, a.ctxErr, "the late announcement has a context of its own")
		require.Eventually(t, func() bool { return strings.Contains(logw.String(), "registered the axon late") }, 10*time.Second, time.Millisecond)
		assert.Equal(t, "flaky: registering the axon in 1ms from the background, as flaky.register=late asks\nflaky: registered the axon late\n", logw.String())
	})
	t.Run("slow start", func(t *testing.T) {
		in, _, logw := injector(t, KeyStartDelay, "1ms")
		a := newAnnouncer()
		require.NoError(t, in.Register(context.Background(), a.announce, reg))
		assert.Equal(t, []miner.AxonInfo{reg}, a.axons, "announced before Register returns")
		assert.Equal(t, fmt.Sprintf("flaky: starting slowly (pid %d): registering the axon in 1ms, as flaky.start_delay asks\n", os.Getpid()), logw.String())
	})
	t.Run("slow start cut short", func(t *testing.T) {
		in, _, _ := injector(t, KeyStartDelay, "1h")
		a := newAnnouncer()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := in.Register(ctx, a.announce, reg)
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "flaky: slow start cut short")
		assert.Empty(t, a.axons)
	})
}
