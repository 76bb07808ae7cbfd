// Command template is the template miner: the serving path of Bittensor
// 2.0.4's template nucleus in pure Go, served as a minerbench plugin.
//
// It serves the model over both protocols: forward queries over Bittensor
// 2.0.x's gRPC, and the TextEmbedding synapse over today's HTTP synapse
// protocol.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

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
	return &forwarder{n: n}, nil
}

// forwarder serves one nucleus over both protocols.
type forwarder struct{ n *nucleus.Nucleus }

// Forward answers a forward query with the model's [batch, seq, NetworkDim]
// output.
func (f *forwarder) Forward(_ context.Context, in miner.Tensor) (miner.Tensor, error) {
	batch, seq := in.Shape[0], in.Shape[1]
	out, err := f.n.Forward(in.Int64s(), int(batch), int(seq))
	if err != nil {
		return miner.Tensor{}, err
	}
	return miner.FromFloat32([]int64{batch, seq, miner.NetworkDim}, out), nil
}

// Synapses returns the handler of TextEmbedding.
func (f *forwarder) Synapses() []miner.SynapseHandler {
	return []miner.SynapseHandler{miner.Synapse(f.embed)}
}

// TextEmbedding asks for one embedding per sequence of token ids: the mean,
// over the sequence, of the model's output, NetworkDim numbers. In Python:
//
//	class TextEmbedding(bt.Synapse):
//	    token_ids: list[list[int]]
//	    embedding: Optional[list[list[float]]] = None
//	    required_hash_fields: ClassVar[tuple[str, ...]] = ("token_ids",)
//
// token_ids is a [batch][seq] list of ids in [0, 50258), every sequence of
// one length, at most maxTokens ids in all. An invalid one is answered 400
// with a message naming what is wrong.
type TextEmbedding struct {
	TokenIDs  [][]int64   `json:"token_ids" synapse:"required,hash"`
	Embedding [][]float32 `json:"embedding"`
}

// maxTokens bounds a TextEmbedding's token ids: the largest forward query
// the benchmark sends.
const maxTokens = 32 * 1024

func (f *forwarder) embed(_ context.Context, s *TextEmbedding) error {
	batch := len(s.TokenIDs)
	if batch == 0 || len(s.TokenIDs[0]) == 0 {
		return &miner.StatusError{Code: http.StatusBadRequest, Message: "token_ids: empty; want at least one sequence of at least one id"}
	}
	seq := len(s.TokenIDs[0])
	if batch*seq > maxTokens {
		return &miner.StatusError{Code: http.StatusBadRequest, Message: fmt.Sprintf("token_ids: %d×%d ids; want at most %d", batch, seq, maxTokens)}
	}
	flat := make([]int64, 0, batch*seq)
	for i, row := range s.TokenIDs {
		if len(row) != seq {
			return &miner.StatusError{Code: http.StatusBadRequest, Message: fmt.Sprintf("token_ids[%d]: %d ids; want %d, as token_ids[0]", i, len(row), seq)}
		}
		flat = append(flat, row...)
	}
	out, err := f.n.Forward(flat, batch, seq)
	if err != nil {
		return &miner.StatusError{Code: http.StatusBadRequest, Message: "token_ids: " + err.Error()}
	}
	s.Embedding = meanOverSeq(out, batch, seq)
	return nil
}

// meanOverSeq returns the mean over seq of a [batch, seq, NetworkDim]
// output.
func meanOverSeq(out []float32, batch, seq int) [][]float32 {
	emb := make([][]float32, batch)
	for b := range emb {
		row := make([]float32, miner.NetworkDim)
		for t := range seq {
			for i, v := range out[(b*seq+t)*miner.NetworkDim:][:miner.NetworkDim] {
				row[i] += v
			}
		}
		for i := range row {
			row[i] /= float32(seq)
		}
		emb[b] = row
	}
	return emb
}
