package minerbench

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/httpdendrite"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// maxMessages bounds the distinct failure statuses whose message a worker
// keeps for the analysis.
const maxMessages = 16

// synapseClient is the load.Client of the HTTP synapse protocol: a
// worker's httpdendrite client, with the first message of each failure
// status it saw.
type synapseClient struct {
	c         *httpdendrite.Client
	streaming bool
	timeout   time.Duration
	messages  map[int32]string
	succeeded int // queries answered 200
}

// synapseClients returns n clients of s at url, signed with key for the
// axon of axonHotkey, each query bounded by timeout, sharing transport.
func synapseClients(n int, url, axonHotkey string, s *Synapse, key *wallet.Keypair, timeout time.Duration, transport http.RoundTripper) ([]load.Client, error) {
	clients := make([]load.Client, n)
	for i := range clients {
		c, err := httpdendrite.New(httpdendrite.Config{
			URL: url, AxonHotkey: axonHotkey, Synapse: s.Name, Body: []byte(s.Body), HashFields: s.HashFields,
			Key: key, Timeout: timeout, TimedByCaller: true, Streaming: s.Streaming, Transport: transport,
		})
		if err != nil {
			return nil, err
		}
		clients[i] = &synapseClient{c: c, streaming: s.Streaming, timeout: timeout, messages: map[int32]string{}}
	}
	return clients, nil
}

// Query sends the synapse and returns the status a bittensor dendrite
// records: 200 for success; the axon's status otherwise; 408 for a query
// cut by its timeout, 503 for an axon that cannot be reached.
func (c *synapseClient) Query(ctx context.Context, _ int) load.Outcome {
	r := c.c.Query(ctx)
	code, msg := int32(r.Code), r.Message
	if code == 0 && ctx.Err() != nil && context.Cause(ctx) == context.DeadlineExceeded {
		code, msg = synapse.StatusTimeout, synapse.TimeoutMessage(c.timeout.Seconds())
	}
	ok := r.Success()
	if ok {
		c.succeeded++
	} else if _, seen := c.messages[code]; !seen && len(c.messages) < maxMessages {
		c.messages[code] = msg
	}
	o := load.Outcome{Code: code, OK: ok, Latency: r.Latency}
	if r.ProcessTime.OK {
		o.Extra.Server = r.ProcessTime.V
	}
	if c.streaming && ok {
		o.Extra.FirstByte, o.Extra.Chunks, o.Extra.Bytes = r.FirstByte, int64(r.Chunks), r.Bytes
	}
	return o
}

// TimeoutCode returns the status of a query cut by its timeout: 408, as a
// bittensor dendrite records it.
func (c *synapseClient) TimeoutCode() int32 { return synapse.StatusTimeout }

// statusMessages returns the first message each failure status of clients
// came with, by status.
func statusMessages(clients []load.Client) map[history.Code]string {
	out := map[history.Code]string{}
	for _, lc := range clients {
		c, ok := lc.(*synapseClient)
		if !ok {
			continue
		}
		for code, msg := range c.messages {
			if _, seen := out[history.Code(code)]; !seen {
				out[history.Code(code)] = msg
			}
		}
	}
	return out
}

// printMessages writes the first message of each failure status, in order
// of status, for the analysis.
func printMessages(messages map[history.Code]string) string {
	if len(messages) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("First message of each failure status:\n")
	for _, code := range slices.Sorted(maps.Keys(messages)) {
		fmt.Fprintf(&b, "  %s: %s\n", code, messages[code])
	}
	return b.String()
}

// warmUpVerdict returns why a synapse load cannot measure anything when
// every warm-up query of clients failed in a way that names a setting: an
// unknown synapse (404) or a signature the axon does not accept (401
// Signature mismatch), and "" otherwise. remote says whether the axon is
// -mb.endpoint's, so that the message names the flags to fix.
func warmUpVerdict(clients []load.Client, s *Synapse, remote bool) (verdict string, skip bool) {
	for _, lc := range clients {
		if c, ok := lc.(*synapseClient); ok && c.succeeded > 0 {
			return "", false
		}
	}
	msgs := statusMessages(clients)
	if msg, ok := msgs[404]; ok && len(msgs) == 1 {
		if remote {
			return fmt.Sprintf("-%ssynapse=%s: the axon serves no such synapse: %s", flagPrefix, s.Name, msg), false
		}
		return fmt.Sprintf("the miner serves no synapse %s: %s", s.Name, msg), true
	}
	if msg, ok := msgs[401]; ok && strings.Contains(msg, "Signature mismatch") {
		hint := "the axon's hotkey"
		if remote {
			hint = "is -" + flagPrefix + "axon-hotkey the axon's hotkey?"
		}
		return fmt.Sprintf("every warm-up query was refused: %s (%s)", msg, hint), false
	}
	return "", false
}
