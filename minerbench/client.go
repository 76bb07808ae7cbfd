package minerbench

import (
	"context"

	"github.com/minerbench/minerbench/minerbench/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// dendriteClient is the load.Client of the Bittensor 2.0.x protocol: a
// worker's dendrite and the token batches its queries cycle through.
type dendriteClient struct {
	d      *dendrite.Dendrite
	inputs []tensor.Tensor
}

// dendriteClients returns a client per dendrite, each cycling through
// inputs.
func dendriteClients(ds []*dendrite.Dendrite, inputs []tensor.Tensor) []load.Client {
	clients := make([]load.Client, len(ds))
	for i, d := range ds {
		clients[i] = &dendriteClient{d: d, inputs: inputs}
	}
	return clients
}

// Query sends token batch seq (modulo their number) and returns its return
// code, success for Success, and the dendrite's measured latency.
func (c *dendriteClient) Query(ctx context.Context, seq int) load.Outcome {
	code, latency := c.d.Measure(ctx, c.inputs[seq%len(c.inputs)])
	return load.Outcome{Code: int32(code), OK: code == wire.ReturnCode_Success, Latency: latency}
}

// TimeoutCode returns the code of a query cut by its timeout: Timeout.
func (c *dendriteClient) TimeoutCode() int32 { return int32(wire.ReturnCode_Timeout) }
