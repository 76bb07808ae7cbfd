package launch_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/chaintest"
	"github.com/minerbench/minerbench/minerbench/internal/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// BenchmarkLaunchToFirstSuccess measures what the harness does before the
// first query of a miner: launch the noop plugin, hand it its settings, wait
// for its axon on the chain (default block time), dial it, and get one
// Success; then stop it. ns/op is launch to first Success plus the stop.
func BenchmarkLaunchToFirstSuccess(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "noop")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/minerbench/minerbench/miners/noop").CombinedOutput()
	require.NoError(b, err, "%s", out)

	ch, endpoint := chaintest.Serve(b, chain.Config{})
	b.Cleanup(ch.Start())

	ctx := context.Background()
	validator := wallet.Mock("bench/validator")
	tokens := tensor.FromInt64([]int64{1, 1}, []int64{42})
	for i := 0; b.Loop(); i++ {
		proc, err := launch.Launch(ctx, launch.Config{Path: bin})
		require.NoError(b, err)
		// A fresh hotkey each time, so the chain cannot hand back the
		// endpoint of the miner stopped in the previous iteration.
		started, err := proc.Start(ctx, miner.Settings{
			miner.KeyChainEndpoint: endpoint,
			miner.KeyWalletHotkey:  fmt.Sprint("launch-", i),
		})
		require.NoError(b, err)
		neuron, err := chain.FindEndpoint(ctx, ch, started.Hotkey, chain.DefaultMaxBlocks)
		require.NoError(b, err)
		d, err := dendrite.Dial(ctx, chain.Endpoint(neuron), validator)
		require.NoError(b, err)
		_, code, _ := d.ForwardText(ctx, tokens)
		require.Equal(b, wire.ReturnCode_Success, code)
		_ = d.Close()
		proc.Kill()
	}
}
