// Command flaky is a fault-injecting miner for testing the harness: on
// deterministic schedules set by its flaky.* settings it adds latency,
// answers chosen return codes, panics, hangs, exits, and registers its axon
// late, never, or at an unroutable address. Package fault does the work.
package main

import (
	"context"
	"io"
	"os"

	"github.com/minerbench/minerbench/minerbench/axon"
	"github.com/minerbench/minerbench/minerbench/chain"
	"github.com/minerbench/minerbench/minerbench/plugin"
	"github.com/minerbench/minerbench/miners/flaky/fault"
)

// main hands the miner the process's stderr before plugin.Serve replaces
// os.Stderr with a pipe the host does not read.
func main() { plugin.Serve(&flaky{log: os.Stderr}) }

// flaky is the miner; New builds its injector, which Register then uses.
type flaky struct {
	log io.Writer
	inj *fault.Injector
}

func (*flaky) Name() string              { return "flaky" }
func (*flaky) Defaults() plugin.Settings { return fault.Defaults() }

func (f *flaky) New(s plugin.Settings) (axon.ForwardFunc, error) {
	cfg, err := fault.Parse(s)
	if err != nil {
		return nil, err
	}
	f.inj = fault.New(cfg, os.Exit, f.log)
	return f.inj.Forward, nil
}

func (f *flaky) Register(ctx context.Context, announce func(context.Context, chain.Axon) error, a chain.Axon) error {
	return f.inj.Register(ctx, announce, a)
}
