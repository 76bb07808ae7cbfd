package minerbench

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/perf/benchfmt"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// zeroBuf backs zeroAnswer's answers, up to [10, 10, NetworkDim]; it is
// never written.
var zeroBuf = make([]float32, 10*10*wire.NetworkDim)

// zeroAnswer returns zeros of the shape a query of in asks for, from one
// prebuilt buffer (batch × seq up to 100).
func zeroAnswer(in tensor.Tensor) tensor.Tensor {
	batch, seq := in.Shape[0], in.Shape[1]
	return tensor.FromFloat32([]int64{batch, seq, wire.NetworkDim}, zeroBuf[:batch*seq*wire.NetworkDim])
}

// zeros is an axon.ForwardFunc answering zeroAnswer.
func zeros(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) { return zeroAnswer(in), nil }

// serveAxon serves an axon with hotkey name answering with forward on a
// loopback port until tb ends, and returns its address.
func serveAxon(tb testing.TB, name string, forward axon.ForwardFunc) string {
	tb.Helper()
	a, err := axon.New(axon.Config{Wallet: wallet.Mock(name)}, forward)
	require.NoError(tb, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	served := make(chan error, 1)
	go func() { served <- a.Serve(lis) }()
	tb.Cleanup(func() {
		a.Stop()
		require.NoError(tb, <-served)
	})
	return lis.Addr().String()
}

// inProcess returns a harness with one miner, name, whose axon is served in
// this process with forward, connected as Main connects a launched miner;
// its histories go under results. Everything is stopped at cleanup.
func inProcess(tb testing.TB, results, name string, timeout time.Duration, forward axon.ForwardFunc) (*harness, *Target) {
	tb.Helper()
	addr := serveAxon(tb, name, forward)
	cfg := defaultConfig()
	cfg.Results = results
	cfg.Timeout = timeout
	h := newHarness(tb.Context(), cfg)
	m := &Target{Name: name, Endpoint: addr, dir: resultsDir(cfg.Results, mockNetwork, validatorWallet, name)}
	m.connect(h.ctx, wallet.Mock(validatorName), "")
	tb.Cleanup(m.stop)
	require.NoError(tb, m.Err())
	h.miners = []*Target{m}
	return h, m
}

// Environment of a child process of the test binary that runs a benchmark
// body for a test (see benchInChild).
const (
	childBodyEnv    = "MINERBENCH_CHILD_BODY"
	childResultsEnv = "MINERBENCH_CHILD_RESULTS"
)

// BenchmarkInChild runs the body of childBodies that MINERBENCH_CHILD_BODY
// names, in a child process a test started with benchInChild; it is skipped
// in any other run. A test drives the harness through it, with the
// *testing.B of a real benchmark run, because testing.Benchmark would
// swallow the goos, goarch, pkg and cpu lines of every later benchmark output
// of the process (see TestNoTestingBenchmark).
func BenchmarkInChild(b *testing.B) {
	name := os.Getenv(childBodyEnv)
	if name == "" {
		b.Skip("runs only in a child process of a test")
	}
	body, ok := childBodies[name]
	if !ok {
		b.Fatalf("%s=%q: want one of the names of childBodies", childBodyEnv, name)
	}
	leaks := goleak.IgnoreCurrent()
	b.Cleanup(func() { goleak.VerifyNone(b, leaks) })
	body(b, os.Getenv(childResultsEnv))
}

// childBodies are the benchmark bodies the tests run with benchInChild.
var childBodies = map[string]func(b *testing.B, results string){
	"drops":       benchDrops,
	"failing":     benchFailing,
	"varied":      benchVaried,
	"old-restart": benchOldRestart,
	"no-success":  func(b *testing.B, results string) { benchNoSuccess(b, results, false) },
	"no-success-fail": func(b *testing.B, results string) {
		benchNoSuccess(b, results, true)
	},
}

// childRun is what a benchmark body run by benchInChild printed.
type childRun struct {
	N       int                // iterations of its result line; 0 without one
	Metrics map[string]float64 // its metrics by unit, ns/op included
	Output  string             // all it printed
	Err     error              // how the child ended: an *exec.ExitError once the benchmark failed
}

// benchInChild runs the childBodies entry name as a benchmark of exactly n
// iterations in a child process of the test binary, its histories going
// under results, and returns what it printed.
func benchInChild(t *testing.T, name string, n int, results string) childRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkInChild$", "-test.benchtime="+strconv.Itoa(n)+"x")
	cmd.Env = append(os.Environ(), childBodyEnv+"="+name, childResultsEnv+"="+results)
	out, err := cmd.CombinedOutput()
	run := childRun{Metrics: map[string]float64{}, Output: string(out), Err: err}
	reader := benchfmt.NewReader(bytes.NewReader(out), name)
	for reader.Scan() {
		res, ok := reader.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		run.N = res.Iters
		for _, v := range res.Values {
			if v.OrigUnit != "" { // benchfmt fills Orig* only for units it tidied
				run.Metrics[v.OrigUnit] = v.OrigValue
			} else {
				run.Metrics[v.Unit] = v.Value
			}
		}
	}
	require.NoError(t, reader.Err())
	return run
}
