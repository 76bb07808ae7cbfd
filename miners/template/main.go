// Command template is the template miner: a small transformer encoder in pure
// Go, like Bittensor's template nucleus, served as a minerbench plugin.
package main

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/miners/template/nucleus"
)

func main() { miner.Serve(template{}) }

// template serves a nucleus.Nucleus built from the nucleus.* settings.
type template struct{}

func (template) Name() string { return "template" }

func (template) Defaults() miner.Settings {
	c := nucleus.DefaultConfig()
	return miner.Settings{
		"nucleus.nhid":    strconv.Itoa(c.NHid),
		"nucleus.nhead":   strconv.Itoa(c.NHead),
		"nucleus.nlayers": strconv.Itoa(c.NLayers),
		"nucleus.width":   strconv.Itoa(c.Width),
		"nucleus.seed":    strconv.FormatUint(c.Seed, 10),
	}
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
