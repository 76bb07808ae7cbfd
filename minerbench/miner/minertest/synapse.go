package minertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/minerbench/minerbench/minerbench/internal/httpaxon"
	"github.com/minerbench/minerbench/minerbench/internal/httpdendrite"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// SynapseAnswer is the outcome of a synapse query as a Python dendrite
// records it: the status (the axon's status code; 408, 503 or 422 for a
// failure on the client's side) and its message.
type SynapseAnswer struct {
	Status  int
	Message string
}

// QuerySynapse sends in to the miner's synapse axon as the signed request
// of the synapse named after S a Bittensor dendrite sends, and returns the
// answer decoded into a new S (nil unless the answer carries the synapse).
// ctx bounds the call; the error is ctx's when it ends first. A miner
// serving no synapses fails the test.
func QuerySynapse[S any](ctx context.Context, s *Server, in *S) (*S, SynapseAnswer, error) {
	s.tb.Helper()
	c, err := synapseQuery(s, in, false)
	if err != nil {
		return nil, SynapseAnswer{}, err
	}
	r := c.Query(ctx)
	if r.Code == 0 && ctx.Err() != nil {
		return nil, SynapseAnswer{}, ctx.Err()
	}
	ans := SynapseAnswer{Status: r.Code, Message: r.Message}
	var probe struct{ Name *string } // an error answer is {"message": …}
	if json.Unmarshal(c.Answer(), &probe) != nil || probe.Name == nil {
		return nil, ans, nil
	}
	out := new(S)
	if err := json.Unmarshal(c.Answer(), out); err != nil {
		return nil, ans, fmt.Errorf("minertest: answer: %w", err)
	}
	return out, ans, nil
}

// StreamAnswer is the outcome of a streaming synapse query: its status and
// message as for SynapseAnswer, and what the stream held.
type StreamAnswer struct {
	SynapseAnswer
	// Chunks counts the reads that returned data; a chunk the miner wrote
	// may arrive split or merged with the next.
	Chunks int
	// Bytes is the size of the stream.
	Bytes int64
}

// QueryStream sends in to the miner's streaming synapse named after S, as
// QuerySynapse does, and reads the answer as a stream, as the dendrite of a
// StreamingSynapse does.
func QueryStream[S any](ctx context.Context, s *Server, in *S) (StreamAnswer, error) {
	s.tb.Helper()
	c, err := synapseQuery(s, in, true)
	if err != nil {
		return StreamAnswer{}, err
	}
	r := c.Query(ctx)
	if r.Code == 0 && ctx.Err() != nil {
		return StreamAnswer{}, ctx.Err()
	}
	return StreamAnswer{SynapseAnswer: SynapseAnswer{Status: r.Code, Message: r.Message}, Chunks: r.Chunks, Bytes: r.Bytes}, nil
}

// synapseQuery returns a client that sends in, the synapse named after S.
func synapseQuery[S any](s *Server, in *S, streaming bool) (*httpdendrite.Client, error) {
	if s.synapses == nil {
		s.tb.Fatalf("minertest: the miner serves no synapses (its Forwarder is no miner.SynapseServer)")
	}
	d, err := httpaxon.Describe[S]()
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("minertest: synapse %s: %w", d.Name, err)
	}
	required := []string{}
	for _, f := range d.Fields {
		if f.Required {
			required = append(required, f.Name)
		}
	}
	c, err := httpdendrite.New(httpdendrite.Config{
		URL: s.SynapseEndpoint, AxonHotkey: s.Hotkey, Synapse: d.Name, Body: body,
		HashFields: d.Hash, Required: required, Key: s.synapses.key, DendriteIP: "127.0.0.1",
		Transport: s.synapses.transport, Streaming: streaming,
	})
	if err != nil {
		return nil, fmt.Errorf("minertest: synapse %s: %w", d.Name, err)
	}
	return c, nil
}

// synapseClient is what a Server's synapse queries share: the
// validator's key and the connections.
type synapseClient struct {
	key       *wallet.Keypair
	transport *http.Transport
}

func newSynapseClient() *synapseClient {
	return &synapseClient{key: wallet.Mock(validator), transport: httpdendrite.NewTransport()}
}
