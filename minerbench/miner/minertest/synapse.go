package minertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/minerbench/minerbench/minerbench/httpaxon"
	"github.com/minerbench/minerbench/minerbench/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// SynapseAnswer is the outcome of a synapse query: the HTTP status (the
// axon's status code) and the axon's status message, or the error
// response's message.
type SynapseAnswer struct {
	Status  int
	Message string
}

// QuerySynapse sends in to the miner's synapse axon as a signed request of
// the synapse named after S, as a Bittensor dendrite builds it, and returns
// the answer decoded into a new S (nil unless it carries the synapse). ctx
// bounds the call; an error means no answer came. A miner serving no
// synapses fails the test.
func QuerySynapse[S any](ctx context.Context, s *Server, in *S) (*S, SynapseAnswer, error) {
	s.tb.Helper()
	if s.synapses == nil {
		s.tb.Fatalf("minertest: the miner serves no synapses (its Forwarder is no miner.SynapseServer)")
	}
	d, err := httpaxon.Describe[S]()
	if err != nil {
		return nil, SynapseAnswer{}, err
	}
	resp, err := s.synapses.do(ctx, d, in)
	if err != nil {
		return nil, SynapseAnswer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, SynapseAnswer{}, err
	}
	ans := SynapseAnswer{Status: resp.StatusCode, Message: resp.Header.Get(synapse.HeaderAxonStatusMessage)}
	var probe struct{ Name *string } // an error answer is {"message": …}
	if resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &probe) != nil || probe.Name == nil {
		return nil, ans, nil
	}
	out := new(S)
	if err := json.Unmarshal(body, out); err != nil {
		return nil, ans, fmt.Errorf("minertest: answer of %s: %w", d.Name, err)
	}
	return out, ans, nil
}

// synapseClient signs and sends synapse requests to one axon: one uuid,
// strictly increasing nonces.
type synapseClient struct {
	base       string
	axonHotkey string
	key        *wallet.Keypair
	uuid       string
	http       *http.Client

	mu    sync.Mutex
	nonce int64
}

func newSynapseClient(base, axonHotkey string) *synapseClient {
	return &synapseClient{
		base: base, axonHotkey: axonHotkey, key: wallet.Mock(validator),
		uuid: synapse.NewErrorID(), http: &http.Client{Transport: &http.Transport{}},
	}
}

// nextNonce returns the clock in ns, or one more than the last nonce.
func (c *synapseClient) nextNonce() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonce = max(time.Now().UnixNano(), c.nonce+1)
	return c.nonce
}

// do sends in, a synapse described by d.
func (c *synapseClient) do(ctx context.Context, d httpaxon.Description, in any) (*http.Response, error) {
	fields, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("minertest: synapse %s: %w", d.Name, err)
	}
	var base map[string]any
	if err := json.Unmarshal(fields, &base); err != nil {
		return nil, fmt.Errorf("minertest: synapse %s: want a struct: %w", d.Name, err)
	}
	base["name"], base["timeout"], base["computed_body_hash"] = d.Name, 12.0, ""
	body, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	hash, err := synapse.AppendBodyHash(nil, body, d.Hash)
	if err != nil {
		return nil, fmt.Errorf("minertest: synapse %s: %w", d.Name, err)
	}
	nonce := c.nextNonce()
	msg := synapse.AppendSignedString(nil, nonce, c.key.SS58(), c.axonHotkey, c.uuid, string(hash))
	sig, err := synapse.AppendSignature(nil, c.key, msg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+d.Name, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(c.base) // c.base is the runtime's own URL
	host, port, _ := net.SplitHostPort(u.Host)
	h := req.Header
	for _, kv := range [...][2]string{
		{synapse.HeaderName, d.Name}, {synapse.HeaderTimeout, "12.0"},
		{synapse.HeaderAxonIP, host}, {synapse.HeaderAxonPort, port}, {synapse.HeaderAxonHotkey, c.axonHotkey},
		{synapse.HeaderDendriteIP, "127.0.0.1"}, {synapse.HeaderDendriteVersion, strconv.Itoa(synapse.Version)},
		{synapse.HeaderDendriteNonce, strconv.FormatInt(nonce, 10)}, {synapse.HeaderDendriteUUID, c.uuid},
		{synapse.HeaderDendriteHotkey, c.key.SS58()}, {synapse.HeaderDendriteSig, string(sig)},
		{synapse.HeaderBodyHash, string(hash)}, {"Content-Type", "application/json"},
	} {
		h[kv[0]] = []string{kv[1]}
	}
	for _, f := range d.Fields {
		if f.Required {
			h[synapse.PrefixInputObj+f.Name] = []string{f.Kind.InputObj()}
		}
	}
	return c.http.Do(req)
}
