// Command flaky is a fault-injecting miner for testing the harness: on
// deterministic schedules set by its flaky.* settings it adds latency,
// answers chosen return codes, panics, hangs, exits, and registers its axon
// late, never, or at an unroutable address. Package fault does the work.
package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/miners/flaky/fault"
)

// main hands the miner the process's own stderr before miner.Serve replaces
// os.Stderr with a pipe: the host reads that pipe over the plugin's gRPC
// channel, which an exit can cut, and the line flaky logs before it exits
// must reach the host.
func main() { miner.Serve(&flaky{log: os.Stderr}) }

// flaky is the miner; New builds its injector, which Register then uses.
type flaky struct {
	log io.Writer
	inj *fault.Injector
}

func (*flaky) Name() string             { return "flaky" }
func (*flaky) Defaults() miner.Settings { return fault.Defaults() }

func (f *flaky) New(_ context.Context, s miner.Settings, _ *slog.Logger) (miner.Forwarder, error) {
	cfg, err := fault.Parse(s)
	if err != nil {
		return nil, err
	}
	f.inj = fault.New(cfg, os.Exit, f.log)
	return miner.ForwardFunc(f.inj.Forward), nil
}

func (f *flaky) Register(ctx context.Context, announce func(context.Context, miner.AxonInfo) error, a miner.AxonInfo) error {
	return f.inj.Register(ctx, announce, a)
}
