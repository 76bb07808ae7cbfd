package minerbench

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/axon"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/minerbench/wire"
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
// its histories go under a temporary directory. Everything is stopped at
// test cleanup.
func inProcess(t *testing.T, name string, timeout time.Duration, forward axon.ForwardFunc) (*harness, *Miner) {
	t.Helper()
	addr := serveAxon(t, name, forward)
	cfg := DefaultConfig()
	cfg.Results = t.TempDir()
	cfg.Timeout = timeout
	h := &harness{cfg: cfg, ctx: t.Context(), restarted: map[string]bool{}}
	m := &Miner{Name: name, Endpoint: addr, network: "mock"}
	m.connect(h.ctx, wallet.Mock(validatorName))
	t.Cleanup(m.stop)
	require.NoError(t, m.Err())
	h.miners = []*Miner{m}
	return h, m
}
