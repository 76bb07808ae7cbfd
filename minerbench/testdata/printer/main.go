// Command printer is a miner for the tests of the miners' logs: it logs
// through the logger New receives, and for each query prints a line to
// stdout and one to stderr from inside its forward function. It answers
// zeros.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/minerbench/minerbench/minerbench/miner"
)

func main() { miner.Serve(printer{}) }

type printer struct{}

func (printer) Name() string             { return "printer" }
func (printer) Defaults() miner.Settings { return miner.Settings{} }

func (printer) New(_ context.Context, _ miner.Settings, log *slog.Logger) (miner.Forwarder, error) {
	log.Info("printer ready")
	var queries atomic.Int64
	return miner.ForwardFunc(func(_ context.Context, in miner.Tensor) (miner.Tensor, error) {
		n := queries.Add(1)
		fmt.Printf("printer: query %d on stdout\n", n)
		fmt.Fprintf(os.Stderr, "printer: query %d on stderr\n", n)
		batch, seq := in.Shape[0], in.Shape[1]
		return miner.FromFloat32([]int64{batch, seq, miner.NetworkDim}, make([]float32, batch*seq*miner.NetworkDim)), nil
	}), nil
}
