// Command noop is the floor the harness is measured against: a miner that
// answers zeros of the right shape as fast as it can.
//
// It also answers two synapses over Bittensor's HTTP synapse protocol:
// the subnet template's Dummy (dummy_output = 2 × dummy_input) and Echo,
// whose text, a hash field, comes back upper-cased.
package main

import (
	"context"
	"log/slog"
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

// Synapses returns the handlers of Dummy and Echo.
func (*forwarder) Synapses() []miner.SynapseHandler {
	return []miner.SynapseHandler{miner.Synapse(dummy), miner.Synapse(echo)}
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
