// Package miner is the package a miner author imports.
//
// It holds the Miner interface, the forward function's types, the
// settings, the tensor type and the return codes. A miner implements Miner
// and calls Serve from main, which is all its main does. Its author never
// touches gRPC or go-plugin. Serve runs the miner as a plugin of the
// benchmark host. Started by hand, it runs it as a standalone axon.
// Package minertest tests a Miner in-process.
// A miner whose Forwarder is also a SynapseServer answers today's
// Bittensor HTTP synapses too (see Synapse), on a second axon.
//
// It is a supported API, for miner authors.
package miner

import (
	"context"
	"log/slog"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
)

// Miner is what a miner author implements.
//
// It has a name, the miner's own settings with their defaults, and a
// constructor of its forward function. The runtime adds the settings every
// miner shares (see RuntimeDefaults). It does the rest: the wallet, the
// axon, the listener and the chain registration. A Miner that also
// implements Registrar controls the registration.
type Miner interface {
	// Name names the miner in benchmark names and the history.
	Name() string
	// Defaults returns the miner's own settings and their defaults.
	//
	// An example is nucleus.nhid=200. Only keys listed here or in
	// RuntimeDefaults can be overridden.
	Defaults() Settings
	// New builds the forward function from the merged settings.
	//
	// ctx ends when the start it belongs to ends, as the host's call
	// returns or gives up. So New must not keep it. log writes to the
	// miner's log, which the host keeps. If the Forwarder also implements
	// io.Closer, the runtime calls Close once when the miner stops, or when
	// its start fails after New.
	New(ctx context.Context, s Settings, log *slog.Logger) (Forwarder, error)
}

// Forwarder answers forward queries.
type Forwarder interface {
	// Forward computes the outputs of a forward text query.
	//
	// in is an INT64 tensor of token ids, of shape [batch, seq]. The result
	// is a FLOAT32 tensor of shape [batch, seq, NetworkDim]. Forward runs on
	// the goroutine that serves the call, for up to axon.workers calls at
	// once. ctx ends when axon.forward_timeout passes or the caller goes
	// away. Forward should then return at once. The call is answered when
	// Forward returns, with Timeout if ctx has ended. An error is answered
	// UnknownException, and a *CodeError with its code. The axon only reads
	// the result. So Forward may return the same tensor to every call, but
	// must not change a tensor it returned.
	Forward(ctx context.Context, in Tensor) (Tensor, error)
}

// ForwardFunc lets a function be a Forwarder, as http.HandlerFunc does for
// handlers.
type ForwardFunc func(ctx context.Context, in Tensor) (Tensor, error)

// Forward calls f.
func (f ForwardFunc) Forward(ctx context.Context, in Tensor) (Tensor, error) { return f(ctx, in) }

// AxonInfo is what an axon's announcement on the chain publishes.
//
// As with serve_axon, that is the hotkey, the owning coldkey, the IP, port
// and IP type, and the modality.
type AxonInfo = chain.Axon

// Registrar lets a Miner control how its axon is announced on the chain.
//
// Without it, the runtime announces the axon itself, and a failed
// announcement fails the start. With it, the runtime calls Register
// instead, once the axon serves after New. An error from Register fails
// the start. announce is serve_axon on the chain of
// subtensor.chain_endpoint. a is what the runtime would have announced.
// Register may change a before announcing it, or announce nothing. It may
// also return at once and announce later from a goroutine, with a context
// of its own, since ctx ends as soon as the start returns. Register is not
// called when no chain is set.
type Registrar interface {
	// Register announces a, or what it makes of a, with announce.
	// It may do so now or later. An error it returns fails the start.
	Register(ctx context.Context, announce func(context.Context, AxonInfo) error, a AxonInfo) error
}
