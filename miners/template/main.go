// Command template is the template miner: the serving path of Bittensor
// 2.0.4's template nucleus in pure Go, served as a minerbench plugin.
package main

import (
	"context"

	"github.com/minerbench/minerbench/minerbench/axon"
	"github.com/minerbench/minerbench/minerbench/plugin"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
	"github.com/minerbench/minerbench/miners/template/nucleus"
)

func main() { plugin.Serve(template{}) }

// template serves a nucleus.Nucleus built from the nucleus.* settings.
type template struct{}

func (template) Name() string { return "template" }

func (template) Defaults() plugin.Settings {
	return nucleus.DefaultConfig().Settings()
}

func (template) New(s plugin.Settings) (axon.ForwardFunc, error) {
	cfg, err := nucleus.FromSettings(s)
	if err != nil {
		return nil, err
	}
	n, err := nucleus.New(cfg)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) {
		batch, seq := in.Shape[0], in.Shape[1]
		out, err := n.Forward(in.Int64s(), int(batch), int(seq))
		if err != nil {
			return tensor.Tensor{}, err
		}
		return tensor.FromFloat32([]int64{batch, seq, wire.NetworkDim}, out), nil
	}, nil
}
