// Command noop is the floor the harness is measured against: a miner that
// answers zeros of the right shape as fast as it can.
package main

import (
	"context"

	"github.com/minerbench/minerbench/minerbench/axon"
	"github.com/minerbench/minerbench/minerbench/plugin"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/miners/internal/zeros"
)

func main() { plugin.Serve(noop{}) }

// noop answers every query with zeros.
type noop struct{}

func (noop) Name() string              { return "noop" }
func (noop) Defaults() plugin.Settings { return plugin.Settings{} }

func (noop) New(plugin.Settings) (axon.ForwardFunc, error) {
	z := new(zeros.Answerer)
	return func(_ context.Context, in tensor.Tensor) (tensor.Tensor, error) { return z.Answer(in), nil }, nil
}
