// Command noop is the floor the harness is measured against: a miner that
// answers zeros of the right shape as fast as it can.
//
// It also answers three synapses over Bittensor's HTTP synapse protocol:
// the subnet template's Dummy (dummy_output = 2 × dummy_input), Echo,
// whose text, a hash field, comes back upper-cased, and Tokens, a
// streaming synapse that sends its tokens back one chunk each, as the
// text-generation subnets stream theirs.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/miners/internal/zeros"
)

func main() { miner.Serve(noop{}) }

// noop answers every query with zeros.
type noop struct{}

func (noop) Name() string             { return "noop" }
func (noop) Defaults() miner.Settings { return miner.Settings{} }

func (noop) New(context.Context, miner.Settings, *slog.Logger) (miner.Forwarder, error) {
	return &forwarder{}, nil
}

// forwarder answers forward queries with zeros, and the synapses.
type forwarder struct{ zeros zeros.Answerer }

func (f *forwarder) Forward(_ context.Context, in miner.Tensor) (miner.Tensor, error) {
	return f.zeros.Answer(in), nil
}

// Synapses returns the handlers of Dummy, Echo and Tokens.
func (*forwarder) Synapses() []miner.SynapseHandler {
	return []miner.SynapseHandler{miner.Synapse(dummy), miner.Synapse(echo), miner.StreamSynapse(tokens)}
}

// Dummy is the subnet template's synapse (template/protocol.py): an integer
// in, twice it out.
type Dummy struct {
	DummyInput  int  `json:"dummy_input" synapse:"required"`
	DummyOutput *int `json:"dummy_output"`
}

func dummy(_ context.Context, s *Dummy) error {
	out := 2 * s.DummyInput
	s.DummyOutput = &out
	return nil
}

// Echo carries a text, signed through the body hash, and gets it back
// upper-cased.
type Echo struct {
	Text string `json:"text" synapse:"required,hash"`
}

func echo(_ context.Context, s *Echo) error {
	s.Text = strings.ToUpper(s.Text)
	return nil
}

// Tokens is a streaming synapse: its n tokens come back as n chunks,
// "token 0\n", "token 1\n", ….
type Tokens struct {
	N int `json:"n" synapse:"required"`
}

// maxTokens bounds the chunks of one Tokens answer.
const maxTokens = 4096

func tokens(ctx context.Context, s *Tokens, w miner.ChunkWriter) error {
	if s.N < 0 || s.N > maxTokens {
		return &miner.StatusError{Code: http.StatusBadRequest, Message: fmt.Sprintf("n: %d; want 0 to %d", s.N, maxTokens)}
	}
	buf := make([]byte, 0, 32)
	for i := range s.N {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		buf = strconv.AppendInt(append(buf[:0], "token "...), int64(i), 10)
		if _, err := w.Write(append(buf, '\n')); err != nil {
			return err
		}
	}
	return nil
}
