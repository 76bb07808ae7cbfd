// Command noop is the floor the harness is measured against: a miner that
// answers zeros of the right shape as fast as it can.
package main

import (
	"context"
	"log/slog"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/miners/internal/zeros"
)

func main() { miner.Serve(noop{}) }

// noop answers every query with zeros.
type noop struct{}

func (noop) Name() string             { return "noop" }
func (noop) Defaults() miner.Settings { return miner.Settings{} }

func (noop) New(context.Context, miner.Settings, *slog.Logger) (miner.Forwarder, error) {
	z := new(zeros.Answerer)
	return miner.ForwardFunc(func(_ context.Context, in miner.Tensor) (miner.Tensor, error) { return z.Answer(in), nil }), nil
}
