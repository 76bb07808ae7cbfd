package minerbench

import (
	"bytes"
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// countSource hands out n queries; no outcome shows the server gone.
type countSource struct{ n atomic.Int64 }

func (s *countSource) Next() bool             { return s.n.Add(-1) >= 0 }
func (s *countSource) Gone(load.Outcome) bool { return false }

// memorySink keeps the records it is given.
type memorySink struct{ recs []load.Record }

func (s *memorySink) Write(recs []load.Record) error {
	s.recs = append(s.recs, recs...)
	return nil
}

// TestDendriteClient runs the 2.0.x client in a closed loop against an axon
// that waits out every query of a batch of 2: such a query is cut by the
// timeout and recorded as Timeout, not success, and the queries before and
// after it succeed. An interrupt ends a query without a record.
func TestDendriteClient(t *testing.T) {
	addr := serveAxon(t, "axon", func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		if in.Shape[0] == 2 { // the slow query
			<-ctx.Done()
			return tensor.Tensor{}, ctx.Err()
		}
		return zeroAnswer(in), nil
	})
	d, err := dendrite.Dial(t.Context(), addr, wallet.Mock(validatorName))
	require.NoError(t, err)
	defer d.Close()
	fast, slow := makeTokenBatches(1, 3)[0], makeTokenBatches(2, 3)[0]
	clients := dendriteClients([]*dendrite.Dendrite{d}, []tensor.Tensor{fast, fast, slow, fast})
	const timeout = 2 * time.Second // ample for a loopback answer under load; the slow query waits it out

	src, sink := &countSource{}, &memorySink{}
	src.n.Store(4)
	_, err = load.Send(t.Context(), load.Config{Timeout: timeout}, clients, src, sink)
	require.NoError(t, err)
	require.Len(t, sink.recs, 4)
	want := []wire.ReturnCode{wire.ReturnCode_Success, wire.ReturnCode_Success, wire.ReturnCode_Timeout, wire.ReturnCode_Success}
	for i, rec := range sink.recs {
		assert.Equal(t, want[i], wire.ReturnCode(rec.Code), "query %d", i)
		assert.Equal(t, want[i] == wire.ReturnCode_Success, rec.OK, "query %d", i)
		assert.Positive(t, rec.Latency, "query %d", i)
	}
	assert.GreaterOrEqual(t, sink.recs[2].Latency, timeout, "a query is cut only once its timeout has passed")
	assert.Equal(t, int32(wire.ReturnCode_Timeout), clients[0].TimeoutCode())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.Equal(t, int32(wire.ReturnCode_UnknownException), clients[0].Query(ctx, 0).Code, "interrupted")
}

// TestRemoteResultsDir checks where the histories of a miner queried by
// -mb.endpoint go, under the network "remote" and the validator's wallet
// name, and that start says so on its stderr.
func TestRemoteResultsDir(t *testing.T) {
	cfg := defaultConfig()
	cfg.Results = t.TempDir()
	cfg.Endpoint = serveAxon(t, "remote", zeros)
	var stderr bytes.Buffer
	h := newHarness(t.Context(), cfg)
	defer h.stop()
	require.NoError(t, h.start(nil, &stderr))
	require.Len(t, h.miners, 1)
	m := h.miners[0]
	require.NoError(t, m.Err())
	want := filepath.Join(cfg.Results, "remote", "default", "remote")
	assert.Equal(t, want, m.dir)
	assert.DirExists(t, want)
	assert.Equal(t, "Logging to: "+want+"\n", stderr.String())
}
