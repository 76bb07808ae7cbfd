//go:build linux

package minerbench

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/minerbench/minerbench/minerbench/internal/analysis"
	"github.com/minerbench/minerbench/minerbench/internal/auth"
	"github.com/minerbench/minerbench/minerbench/internal/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// BenchmarkOverhead measures what the harness costs per query beside the
// signed floor: the least a client must do per query. Both paths query the
// same server in another process (internal/rawserver, which answers zeros
// from a response it marshaled once per shape and checks nothing), over
// loopback, so the test process's CPU time is the client's alone:
//
//   - path=harness is the query loop Bench runs against an endpoint, as
//     with -mb.endpoint (a dendrite and connection per worker, warm-up,
//     per-query timeout, the answer decoded and checked, the run's summary, the
//     history written to a temporary directory);
//   - path=floor is conc goroutines, each with its own connection, calling
//     grpc-go's generated client with its default codec and one prebuilt
//     request, signing every call as the dendrite does (a fresh nonce, an
//     sr25519 signature and the four metadata keys), checking only the
//     return code and recording each latency in one summary, as the harness
//     does. One summary, not one per goroutine: each holds a few hundred KB
//     of histograms, and sixteen of them made the floor's live heap 11 MB
//     where the harness's is 2 MB, so that its garbage collector, which
//     paces itself by the live heap, ran less than half as often (37 times
//     in 20,000 queries at 1x1, against 94 with one summary).
//
// Both report the harness's metrics; ns/op is wall time per query and
// cpu-ns/op the test process's user and system CPU time (getrusage) per
// query over the whole sub-benchmark, dialing and warm-up included. When
// the test process may not run on every CPU (taskset -c 0 go test ...), the
// server is pinned to the CPUs left, so client and server do not share one.
func BenchmarkOverhead(b *testing.B) {
	addr, _ := startRawServer(b)
	ctx, cancel := context.WithCancel(context.Background()) // as Main's
	defer cancel()
	h := newHarness(ctx, defaultConfig())
	h.cfg.Results = b.TempDir()
	m := &Target{Name: "raw", Endpoint: addr, dir: b.TempDir(), validator: wallet.Mock(validatorName)}
	defer m.stop()

	for _, shape := range [][2]int{{1, 1}, {10, 10}} {
		for _, conc := range []int{1, 16} {
			load := Load{Batch: shape[0], Block: shape[1], Conc: conc, History: DefaultHistory}
			name := fmt.Sprintf("shape=%dx%d/conc=%d", shape[0], shape[1], conc)
			b.Run(name+"/path=floor", func(b *testing.B) {
				b.ReportAllocs()
				cpu := cpuTime()
				floor(b, addr, load)
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
			b.Run(name+"/path=harness", func(b *testing.B) {
				b.ReportAllocs()
				cpu := cpuTime()
				h.bench(b, m, load)
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime returns the user and system CPU time the process has used, in
// nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err) // RUSAGE_SELF with a valid pointer cannot fail
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// startRawServer builds and starts internal/rawserver, pinned to the CPUs
// this process may not use when there are any, and returns its gRPC address
// and its synapse URL. The server is stopped when b ends.
func startRawServer(b *testing.B) (addr, url string) {
	bin, err := launch.Build(context.Background(), b.TempDir(), "rawserver", "github.com/minerbench/minerbench/minerbench/internal/rawserver")
	require.NoError(b, err)
	cmd := exec.Command(bin)
	if cpus := otherCPUs(); cpus != "" {
		if taskset, err := exec.LookPath("taskset"); err == nil {
			cmd = exec.Command(taskset, "-c", cpus, bin)
			b.Logf("server pinned to CPUs %s, the client's are the others", cpus)
		}
	}
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		_ = stdin.Close() // the server stops when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	out := bufio.NewReader(stdout)
	addr, err = out.ReadString('\n')
	require.NoError(b, err)
	url, err = out.ReadString('\n')
	require.NoError(b, err)
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return strings.TrimSpace(addr), strings.TrimSpace(url)
}

// otherCPUs returns the online CPUs this process may not run on, in
// taskset's list form, or "" when it may run on all of them.
func otherCPUs() string {
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		return ""
	}
	online, err := os.ReadFile("/sys/devices/system/cpu/online") // as "0-3,6"
	if err != nil {
		return ""
	}
	var others []string
	for r := range strings.SplitSeq(strings.TrimSpace(string(online)), ",") {
		lo, hi, _ := strings.Cut(r, "-")
		first, err1 := strconv.Atoi(lo)
		last, err2 := strconv.Atoi(cmp.Or(hi, lo))
		if err1 != nil || err2 != nil {
			return ""
		}
		for cpu := first; cpu <= last; cpu++ {
			if !mine.IsSet(cpu) {
				others = append(others, strconv.Itoa(cpu))
			}
		}
	}
	return strings.Join(others, ",")
}

// floor is path=floor of BenchmarkOverhead: b.N signed Forward calls of one
// prebuilt request, shared by load.Conc goroutines with a connection and a
// signer each, recorded in one summary and reported as the harness reports
// its queries.
func floor(b *testing.B, addr string, load Load) {
	key := wallet.Mock(validatorName)
	req := floorRequest(b, key, load)
	type worker struct {
		client wire.BittensorClient
		signer *auth.Signer
	}
	var (
		mu      sync.Mutex
		summary analysis.Summary
	)
	workers := make([]worker, load.Conc)
	for i := range workers {
		conn, err := grpc.NewClient("passthrough:///"+addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(dendrite.DefaultMaxMessageSize)))
		require.NoError(b, err)
		defer conn.Close()
		signer, err := auth.NewSigner(key)
		require.NoError(b, err)
		workers[i] = worker{client: wire.NewBittensorClient(conn), signer: signer}
	}
	ctx := context.Background()
	call := func(w worker) error {
		start := time.Now()
		callCtx, err := w.signer.AppendToOutgoingContext(ctx, wire.RequestType_FORWARD)
		if err != nil {
			return err
		}
		resp, err := w.client.Forward(callCtx, req)
		if err != nil {
			return err
		}
		if resp.ReturnCode != wire.ReturnCode_Success {
			return fmt.Errorf("return code %v", resp.ReturnCode)
		}
		latency := time.Since(start)
		mu.Lock()
		summary.Add(history.Row{Record: history.Record{Latency: latency, Code: history.ReturnCode(resp.ReturnCode)}})
		mu.Unlock()
		return nil
	}
	for _, w := range workers { // connect and warm up, as the harness does
		for range warmupQueries {
			require.NoError(b, call(w))
		}
	}
	summary = analysis.Summary{}
	wall := driveFloor(b, len(workers), func(i int) error { return call(workers[i]) })
	reportQueryMetrics(b, &summary, wall, load)
}

// driveFloor is the timed region of a floor: b.N calls shared by n
// goroutines, goroutine i making its calls with call(i), taken from an
// atomic count. It returns the wall time, and fails b at the first error.
func driveFloor(b *testing.B, n int, call func(i int) error) time.Duration {
	b.ResetTimer()
	start := time.Now()
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := call(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	wall := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return wall
}

// floorRequest returns the request floor sends.
// It carries the load's first token batch and key's hotkey.
func floorRequest(b *testing.B, key *wallet.Keypair, load Load) *wire.TensorMessage {
	inputs := makeTokenBatches(load.Batch, load.Block)[0]
	buf, err := tensor.Encode(nil, inputs, tensor.Msgpack)
	require.NoError(b, err)
	return &wire.TensorMessage{
		Version: wire.Version, Hotkey: key.SS58(), RequiresGrad: true,
		Tensors: []*wire.Tensor{{
			Version: wire.Version, Buffer: buf, Shape: inputs.Shape,
			Dtype: wire.DataType_INT64, Modality: wire.Modality_TEXT,
		}},
	}
}
