// Command template is the template miner: the serving path of Bittensor
// 2.0.4's template nucleus in pure Go, served as a minerbench plugin.
package main

import (
	"context"
	"log/slog"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/miners/template/nucleus"
)

func main() { miner.Serve(template{}) }

// template serves a nucleus.Nucleus built from the nucleus.* settings.
type template struct{}

func (template) Name() string { return "template" }

func (template) Defaults() miner.Settings {
	return nucleus.DefaultConfig().Settings()
}

func (template) New(_ context.Context, s miner.Settings, _ *slog.Logger) (miner.Forwarder, error) {
	cfg, err := nucleus.FromSettings(s)
	if err != nil {
		return nil, err
	}
	n, err := nucleus.New(cfg)
	if err != nil {
		return nil, err
	}
	return miner.ForwardFunc(func(_ context.Context, in miner.Tensor) (miner.Tensor, error) {
		batch, seq := in.Shape[0], in.Shape[1]
		out, err := n.Forward(in.Int64s(), int(batch), int(seq))
		if err != nil {
			return miner.Tensor{}, err
		}
		return miner.FromFloat32([]int64{batch, seq, miner.NetworkDim}, out), nil
	}), nil
}
