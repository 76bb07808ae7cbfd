package minerbench

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/dendrite"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// TestQueryTimeout checks the per-query timeout of the query loop: a query
// it cuts is recorded as Timeout, the queries before and after it on the
// same timer succeed, and a run interrupted through the harness's context
// records UnknownException as before.
func TestQueryTimeout(t *testing.T) {
	addr := serveAxon(t, "axon", func(ctx context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		if in.Shape[0] == 2 { // the slow query
			<-ctx.Done()
			return tensor.Tensor{}, ctx.Err()
		}
		return zeroAnswer(in), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := dendrite.Dial(ctx, addr, wallet.Mock(validatorName))
	require.NoError(t, err)
	defer d.Close()
	cfg := defaultConfig()
	cfg.Timeout = 2 * time.Second // ample for a loopback answer under load; the slow steps wait it out
	r := &queryRun{h: &harness{cfg: cfg, ctx: ctx}}
	fast, slow := makeTokenBatches(1, 3)[0], makeTokenBatches(2, 3)[0]

	qt := newQueryTimer(ctx)
	defer qt.release()
	steps := []struct {
		name    string
		input   tensor.Tensor
		want    wire.ReturnCode
		renewed bool
	}{
		{"fast", fast, wire.ReturnCode_Success, false},
		{"fast again", fast, wire.ReturnCode_Success, false},
		{"slow", slow, wire.ReturnCode_Timeout, true},
		{"fast after a timeout", fast, wire.ReturnCode_Success, false},
	}
	for _, s := range steps {
		before := qt.ctx
		code, latency := r.query(d, qt, s.input, cfg.Timeout)
		assert.Equal(t, s.want, code, s.name)
		assert.Positive(t, latency, s.name)
		assert.Equal(t, s.renewed, qt.ctx != before, "%s: context renewed", s.name)
		assert.NoError(t, qt.ctx.Err(), "%s: the next query's context is live", s.name)
	}
	_, latency := r.query(d, qt, slow, cfg.Timeout)
	assert.GreaterOrEqual(t, latency, cfg.Timeout, "a query is cut only once its timeout has passed")

	cancel()
	code, _ := r.query(d, qt, fast, cfg.Timeout)
	assert.Equal(t, wire.ReturnCode_UnknownException, code, "interrupted")
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
