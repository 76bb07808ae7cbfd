package minerbench

import (
	"context"

	"github.com/minerbench/minerbench/minerbench/internal/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/tensor"
)

// dendriteClient is the load.Client of the Bittensor 2.0.x protocol.
// Its queries cycle through a fixed set of token batches.
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

// Query sends token batch seq, modulo their number.
// The latency is the one the dendrite measured.
func (c *dendriteClient) Query(ctx context.Context, seq int) load.Outcome {
	code, latency := c.d.Measure(ctx, c.inputs[seq%len(c.inputs)])
	return load.Outcome{Code: int32(code), OK: code == wire.ReturnCode_Success, Latency: latency}
}

// TimeoutCode returns Timeout, the code of a query cut by its timeout.
func (c *dendriteClient) TimeoutCode() int32 { return int32(wire.ReturnCode_Timeout) }
