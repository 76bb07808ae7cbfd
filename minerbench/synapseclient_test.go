package minerbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/httpdendrite"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// fakeSynapseAxon answers as a synapse axon would: 200 with the axon's
// process time for /Dummy, 404 with the real message for other names, 401
// for a request whose body asks for it, and nothing (until the client gives
// up) for one that asks to hang.
func fakeSynapseAxon(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		switch r.URL.Path {
		case "/Dummy":
			h["bt_header_axon_status_code"] = []string{"200"}
			h["bt_header_axon_process_time"] = []string{"0.25"}
			_, _ = w.Write([]byte(`{"name":"Dummy","dummy_input":3,"dummy_output":6}`))
		case "/Refused":
			h["bt_header_axon_status_code"] = []string{"401"}
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"message":"Not Verified with error: Signature mismatch with x and y"}`))
		case "/Hang":
			<-r.Context().Done()
		default:
			h["bt_header_axon_status_code"] = []string{"404"}
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"message":"Synapse name 'Nope' not found. Available synapses ['Synapse', 'Dummy']"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// queryOnce sends one query of synapse name through a fresh client of srv.
func queryOnce(t *testing.T, srv *httptest.Server, name string, ctx context.Context) (*synapseClient, load.Outcome) {
	t.Helper()
	clients, err := synapseClients(1, srv.URL, aliceSS58, &Synapse{Name: name, Body: `{"dummy_input": 3}`},
		wallet.Mock(validatorName), time.Minute, httpdendrite.NewTransport())
	require.NoError(t, err)
	c := clients[0].(*synapseClient)
	return c, c.Query(ctx, 0)
}

func TestSynapseClient(t *testing.T) {
	srv := fakeSynapseAxon(t)

	t.Run("success with the axon's process time", func(t *testing.T) {
		_, o := queryOnce(t, srv, "Dummy", t.Context())
		assert.Equal(t, int32(200), o.Code)
		assert.True(t, o.OK)
		assert.Positive(t, o.Latency)
		assert.Equal(t, 250*time.Millisecond, o.Extra.Server)
		assert.Zero(t, o.Extra.Chunks, "not a streaming load")
	})
	t.Run("a refusal keeps its message", func(t *testing.T) {
		c, o := queryOnce(t, srv, "Refused", t.Context())
		assert.Equal(t, int32(401), o.Code)
		assert.False(t, o.OK)
		assert.Equal(t, map[history.Code]string{401: "Not Verified with error: Signature mismatch with x and y"}, statusMessages([]load.Client{c}))
	})
	t.Run("cut by its timeout is 408", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(context.DeadlineExceeded) // as the load's timer cuts a query
		c, o := queryOnce(t, srv, "Hang", ctx)
		assert.Equal(t, int32(408), o.Code)
		assert.Equal(t, int32(408), c.TimeoutCode())
		assert.Contains(t, statusMessages([]load.Client{c})[408], "Request timeout after 60")
	})
	t.Run("an unreachable axon is 503", func(t *testing.T) {
		clients, err := synapseClients(1, "http://"+closedPort(t), aliceSS58, &Synapse{Name: "Dummy", Body: `{}`},
			wallet.Mock(validatorName), time.Minute, httpdendrite.NewTransport())
		require.NoError(t, err)
		assert.Equal(t, int32(503), clients[0].Query(t.Context(), 0).Code)
	})
}

// TestWarmUpVerdict: a synapse load whose every warm-up query names a
// setting as wrong is stopped at once, naming it; one that succeeded once
// goes on.
func TestWarmUpVerdict(t *testing.T) {
	srv := fakeSynapseAxon(t)
	warm := func(name string) []load.Client {
		c, _ := queryOnce(t, srv, name, t.Context())
		return []load.Client{c}
	}
	verdict, skip := warmUpVerdict(warm("Nope"), &Synapse{Name: "Nope"}, true)
	assert.False(t, skip)
	assert.Equal(t, "-mb.synapse=Nope: the axon serves no such synapse: Synapse name 'Nope' not found. Available synapses ['Synapse', 'Dummy']", verdict)

	verdict, skip = warmUpVerdict(warm("Nope"), &Synapse{Name: "Nope"}, false)
	assert.True(t, skip, "a launched miner that serves no such synapse is skipped")
	assert.Contains(t, verdict, "the miner serves no synapse Nope")

	verdict, skip = warmUpVerdict(warm("Refused"), &Synapse{Name: "Refused"}, true)
	assert.False(t, skip)
	assert.Contains(t, verdict, "is -mb.axon-hotkey the axon's hotkey?")

	verdict, _ = warmUpVerdict(append(warm("Dummy"), warm("Refused")...), &Synapse{Name: "Dummy"}, true)
	assert.Empty(t, verdict, "one success is enough")
}

// TestConnectSynapseOnly: a miner that serves only HTTP synapses has no
// 2.0.x axon to dial, and connecting it leaves it available.
func TestConnectSynapseOnly(t *testing.T) {
	m := &Target{Name: "m", SynapseURL: "http://" + closedPort(t)}
	m.connect(t.Context(), wallet.Mock(validatorName), "")
	assert.NoError(t, m.Err())

	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the dial fails at once
	m = &Target{Name: "m", Endpoint: closedPort(t)}
	m.connect(ctx, wallet.Mock(validatorName), "")
	assert.Error(t, m.Err(), "a 2.0.x axon is still dialled")
}
