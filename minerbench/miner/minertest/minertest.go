// Package minertest tests a miner.Miner in-process.
//
// As go-plugin's test helpers do for a plugin, it needs no build. Start
// serves the miner's axon on 127.0.0.1 and dials it with a real dendrite.
// So a test queries the miner over the wire protocol, signature and all.
// QuerySynapse queries its synapses over Bittensor's HTTP synapse
// protocol, signed the same way.
//
// It is a supported API, for miner authors.
package minertest

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/minerbench/minerbench/minerbench/internal/dendrite"
	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// validator is the mock wallet the dendrite signs with.
const validator = "minertest/validator"

// Server is a miner started by Start.
// Its axon serves on a free loopback port until the test ends.
type Server struct {
	// Hotkey is the SS58 address the miner's axon answers as.
	Hotkey string
	// Endpoint is the host:port of the miner's axon.
	Endpoint string
	// SynapseEndpoint is the URL (http://host:port) of the miner's HTTP
	// synapse axon, or "" when it serves no synapses.
	SynapseEndpoint string

	tb       testing.TB
	dendrite *dendrite.Dendrite
	synapses *synapseClient
}

// Start starts m as the host would, and dials its axon.
//
// overrides change m's settings. Start calls New, then serves the axon on
// 127.0.0.1 and a free port, with no chain. The miner's log goes to the
// test's log. When tb ends, the dendrite is closed and the miner stopped.
// Its Forwarder is closed then, if it is an io.Closer, and an error of
// Close fails tb. A failed start, such as an unknown setting or an error
// of New, returns the error and leaves nothing running.
func Start(tb testing.TB, m miner.Miner, overrides miner.Settings) (*Server, error) {
	tb.Helper()
	logw := &testWriter{tb: tb}
	log := slog.New(slog.NewTextHandler(logw, nil)).With("miner", m.Name())
	s := miner.Settings{miner.KeyAxonIP: "127.0.0.1", miner.KeyAxonPort: "0", miner.KeyChainEndpoint: ""}
	for k, v := range overrides {
		s[k] = v
	}
	r, err := miner.Start(tb.Context(), m, s, log)
	if err != nil {
		return nil, err
	}
	d, err := dendrite.Dial(tb.Context(), r.Endpoint, wallet.Mock(validator))
	if err != nil {
		_ = r.Stop()
		return nil, err
	}
	tb.Cleanup(func() {
		_ = d.Close()
		if err := r.Stop(); err != nil {
			tb.Errorf("minertest: stop miner %s: %v", m.Name(), err)
		}
		logw.close()
	})
	srv := &Server{Hotkey: r.Hotkey, Endpoint: r.Endpoint, SynapseEndpoint: r.SynapseEndpoint, tb: tb, dendrite: d}
	if r.SynapseEndpoint != "" {
		srv.synapses = newSynapseClient()
		tb.Cleanup(srv.synapses.transport.CloseIdleConnections)
	}
	return srv, nil
}

// Query sends a forward query of Tokens(batch, block).
// It returns the answer and its return code.
func (s *Server) Query(batch, block int) (miner.Tensor, miner.ReturnCode) {
	return s.Forward(s.tb.Context(), Tokens(batch, block))
}

// Forward sends a forward query of in, bounded by ctx.
// It returns the answer and its return code.
func (s *Server) Forward(ctx context.Context, in miner.Tensor) (miner.Tensor, miner.ReturnCode) {
	out, code, _ := s.dendrite.ForwardText(ctx, in)
	return out, code
}

// Tokens returns [batch, block] token ids below miner.VocabSize.
// The same shape always gets the same ids.
func Tokens(batch, block int) miner.Tensor {
	rng := rand.New(rand.NewPCG(uint64(batch), uint64(block)))
	ids := make([]int64, batch*block)
	for i := range ids {
		ids[i] = rng.Int64N(miner.VocabSize)
	}
	return miner.FromInt64([]int64{int64(batch), int64(block)}, ids)
}

// testWriter writes to a test's log until closed.
// The miner's goroutines may outlive the test, whose log must then not be
// written.
type testWriter struct {
	mu     sync.Mutex
	tb     testing.TB
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}
