package httpdendrite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

var (
	validator = wallet.Mock("httpdendrite validator")
	miner     = wallet.Mock("httpdendrite miner")
	echo      = []synapse.Field{{Name: "text", Kind: synapse.KindStr, Required: true}}
)

// testAxon is an axon made of the synapse package: it parses the headers,
// verifies the request and its body hash, and echoes the text in capitals.
type testAxon struct {
	t        testing.TB
	verifier *synapse.Verifier
	mu       sync.Mutex
	seen     int
}

func newTestAxon(t testing.TB) *testAxon {
	return &testAxon{t: t, verifier: synapse.NewVerifier(miner.SS58(), synapse.NewNonces(0))}
}

func (a *testAxon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, msg := a.check(r)
	a.mu.Lock()
	a.seen++
	a.mu.Unlock()
	h := w.Header()
	h[synapse.HeaderAxonStatusCode] = []string{strconv.Itoa(status)}
	h[synapse.HeaderAxonStatusMessage] = []string{msg}
	h[synapse.HeaderAxonProcessTime] = []string{"0.00012803077697753906"}
	h[synapse.HeaderTimeout] = []string{"None"}
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(status)
	if status != http.StatusOK {
		body, _ := json.Marshal(map[string]string{"message": msg})
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write([]byte(`{"name":"Echo","axon":{"status_code":200},"text":"HELLO"}`))
}

func (a *testAxon) check(r *http.Request) (int, string) {
	if r.URL.Path != "/Echo" {
		return synapse.StatusNotFound, synapse.NotFoundMessage(r.URL.Path[1:], []string{"Synapse", "Echo"})
	}
	req, err := synapse.ParseRequest(r.Header, echo)
	if err != nil {
		return synapse.StatusInternalError, err.Error()
	}
	if err := a.verifier.Verify(&req, time.Now().UnixNano()); err != nil {
		return synapse.StatusNotVerified, synapse.NotVerifiedMessage(err.Error())
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return synapse.StatusInternalError, err.Error()
	}
	hash, err := synapse.AppendBodyHash(nil, body, []string{"text"})
	if err != nil || string(hash) != req.BodyHash.V {
		return synapse.StatusInternalError, fmt.Sprintf("body hash %s, header %s (%v)", hash, req.BodyHash.V, err)
	}
	return synapse.StatusSuccess, synapse.SuccessMessage
}

func serve(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func newTestClient(t testing.TB, url string, mod func(*Config)) *Client {
	cfg := Config{URL: url, AxonHotkey: miner.SS58(), Synapse: "Echo", Body: []byte(`{"text": "hello"}`),
		HashFields: []string{"text"}, Key: validator, Transport: NewTransport()}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(cfg.Transport.(*http.Transport).CloseIdleConnections)
	return c
}

// TestAgainstAxon: queries verify, their nonces increase, their body
// hashes match, and the outcome carries the axon's status and times.
func TestAgainstAxon(t *testing.T) {
	axon := newTestAxon(t)
	srv := serve(t, axon)
	c := newTestClient(t, srv.URL, nil)
	for range 20 {
		r := c.Query(context.Background())
		require.True(t, r.Success(), "%d %s", r.Code, r.Message)
		assert.Equal(t, synapse.SuccessMessage, r.Message)
		assert.Equal(t, synapse.Some(128030*time.Nanosecond), r.ProcessTime)
		assert.Equal(t, int64(len(`{"name":"Echo","axon":{"status_code":200},"text":"HELLO"}`)), r.Bytes)
		assert.Positive(t, r.Latency)
	}
	assert.Equal(t, 20, axon.seen)

	// Another client has another uuid, so the axon takes its nonces
	// separately; its requests verify too.
	other := newTestClient(t, srv.URL, nil)
	assert.NotEqual(t, c.UUID(), other.UUID())
	assert.True(t, other.Query(context.Background()).Success())

	// A client signing for another axon is refused with the axon's 401.
	wrong := newTestClient(t, srv.URL, func(cfg *Config) { cfg.AxonHotkey = validator.SS58() })
	r := wrong.Query(context.Background())
	assert.Equal(t, synapse.StatusNotVerified, r.Code)
	assert.Contains(t, r.Message, "Not Verified with error: Signature mismatch with ")
}

// TestConcurrentClients: one client per worker keeps every nonce in order.
func TestConcurrentClients(t *testing.T) {
	srv := serve(t, newTestAxon(t))
	var wg sync.WaitGroup
	results := make(chan Result, 8*25)
	for range 8 {
		c := newTestClient(t, srv.URL, nil)
		wg.Go(func() {
			for range 25 {
				results <- c.Query(context.Background())
			}
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		require.True(t, r.Success(), "%d %s", r.Code, r.Message)
	}
}
