//go:build unix

package minerbench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/minerbench/minerbench/minerbench/auth"
	"github.com/minerbench/minerbench/minerbench/dendrite"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// BenchmarkOverhead measures what the harness costs per query on top of the
// gRPC calls it makes. Both paths query the same in-process axon, whose
// handler answers views of one prebuilt zero buffer, over loopback:
//
//   - path=harness is the query loop Bench runs (harness.bench: one dendrite
//     and connection per worker, warm-up, b.Loop, per-query timeout, the
//     run's summary, history written to a temporary directory, metrics);
//   - path=raw is the floor: conc goroutines, each with its own connection,
//     calling the generated client's Forward with one prebuilt request and
//     the same signing work per call (a fresh nonce, an sr25519 signature and
//     the four metadata keys), checking only the return code.
//
// Both report ns/op as wall time per query, so harness/raw is the harness's
// overhead factor; the server's work is in both and the same. cpu-ns/op is
// the process's CPU time (getrusage: client, server and runtime) per query,
// over the whole sub-benchmark, setup included (dialing, the warm-up, the
// history's commit), steadier than wall time on a shared machine.
func BenchmarkOverhead(b *testing.B) {
	addr := serveAxon(b, "axon", zeros)
	ctx, cancel := context.WithCancel(context.Background()) // as Main's
	defer cancel()
	h := &harness{cfg: defaultConfig(), ctx: ctx, restarted: map[string]bool{}}
	h.cfg.Results = b.TempDir()
	m := &Miner{Name: "axon", Endpoint: addr, dir: b.TempDir(), validator: wallet.Mock(validatorName)}
	defer m.stop()

	for _, shape := range [][2]int{{1, 1}, {10, 10}} {
		for _, conc := range []int{1, 16} {
			load := Load{Batch: shape[0], Block: shape[1], Conc: conc, History: DefaultHistory}
			name := fmt.Sprintf("shape=%dx%d/conc=%d", shape[0], shape[1], conc)
			b.Run(name+"/path=raw", func(b *testing.B) {
				cpu := cpuTime()
				rawForward(b, addr, load)
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
// nanoseconds, or 0 where getrusage fails.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// rawForward is path=raw of BenchmarkOverhead: b.N signed Forward calls of
// one prebuilt request, shared by load.Conc goroutines with a connection and
// a signer each.
func rawForward(b *testing.B, addr string, load Load) {
	inputs := makeTokenBatches(load.Batch, load.Block)[0]
	buf, err := tensor.Encode(nil, inputs, tensor.Msgpack)
	require.NoError(b, err)
	key := wallet.Mock(validatorName)
	req := &wire.TensorMessage{
		Version: wire.Version, Hotkey: key.SS58(), RequiresGrad: true,
		Tensors: []*wire.Tensor{{
			Version: wire.Version, Buffer: buf, Shape: inputs.Shape,
			Dtype: wire.DataType_INT64, Modality: wire.Modality_TEXT,
		}},
	}
	type worker struct {
		client wire.BittensorClient
		signer *auth.Signer
	}
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
		return nil
	}
	for _, w := range workers { // connect and warm up, as the harness does
		for range warmupQueries {
			require.NoError(b, call(w))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	errs := make(chan error, len(workers))
	for _, w := range workers {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := call(w); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
