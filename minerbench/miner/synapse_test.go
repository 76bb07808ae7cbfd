package miner

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/axon"
	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/chaintest"
	"github.com/minerbench/minerbench/minerbench/internal/httpaxon"
	"github.com/minerbench/minerbench/minerbench/internal/settings"
)

// Ping is a synapse of the test miner.
type Ping struct {
	Text string `json:"text" synapse:"required,hash"`
}

// synapseMiner is a Miner whose Forwarder serves synapses too.
type synapseMiner struct {
	plainMiner
	handlers []SynapseHandler
}

func (m synapseMiner) New(context.Context, Settings, *slog.Logger) (Forwarder, error) {
	return synapseForwarder{ForwardFunc: func(context.Context, Tensor) (Tensor, error) { return Tensor{}, nil }, handlers: m.handlers}, nil
}

type synapseForwarder struct {
	ForwardFunc
	handlers []SynapseHandler
}

func (f synapseForwarder) Synapses() []SynapseHandler { return f.handlers }

func pingHandler() SynapseHandler {
	return Synapse(func(_ context.Context, p *Ping) error { p.Text += "!"; return nil })
}

// TestSynapseAxonStarted serves a SynapseServer's synapses on a second,
// HTTP axon, whose URL Start returns; a miner without synapses has none.
func TestSynapseAxonStarted(t *testing.T) {
	r, err := Start(t.Context(), synapseMiner{handlers: []SynapseHandler{pingHandler()}}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Stop() })
	u, err := url.Parse(r.SynapseEndpoint)
	require.NoError(t, err)
	assert.Equal(t, "http", u.Scheme)
	assert.NotEqual(t, r.Endpoint, u.Host, "an axon of its own")
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err, "the synapse axon serves")
	conn.Close()

	plain, err := Start(t.Context(), plainMiner{}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = plain.Stop() })
	assert.Empty(t, plain.SynapseEndpoint)
}

// TestPluginReturnsSynapseEndpoint runs a miner with synapses through the
// plugin contract: the host learns the synapse axon's URL.
func TestPluginReturnsSynapseEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, served := servePluginInProcess(t, ctx, synapseMiner{handlers: []SynapseHandler{pingHandler()}})
	started, err := c.Start(ctx, nil)
	require.NoError(t, err)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, started.SynapseEndpoint)
	assert.NotEmpty(t, started.Endpoint)
	require.NoError(t, c.Stop(ctx))
	cancel()
	<-served
}

// TestSynapseStartErrors fails the start of a miner with an invalid
// synapse type, a zero handler, or axon.announce=synapse without synapses,
// naming what is wrong.
func TestSynapseStartErrors(t *testing.T) {
	type bad struct {
		Text string `json:"text" synapse:"hashed"`
	}
	_, err := Start(t.Context(), synapseMiner{handlers: []SynapseHandler{Synapse(func(context.Context, *bad) error { return nil })}}, nil, nil)
	assert.ErrorContains(t, err, `synapse handler 0: httpaxon: synapse type miner.bad: field Text: synapse tag option "hashed"; want required or hash`)
	_, err = Start(t.Context(), synapseMiner{handlers: []SynapseHandler{{}}}, nil, nil)
	assert.ErrorContains(t, err, "synapse handler 0: a zero SynapseHandler")
	_, err = Start(t.Context(), plainMiner{}, Settings{KeyAxonAnnounce: AnnounceSynapse}, nil)
	assert.ErrorContains(t, err, "setting axon.announce=synapse: the miner serves no synapses")
	_, err = Start(t.Context(), plainMiner{}, Settings{KeyAxonAnnounce: "http"}, nil)
	assert.ErrorContains(t, err, `setting axon.announce="http": want grpc or synapse`)
}

// TestAnnounceSynapse registers the HTTP axon, with its protocol, when
// axon.announce=synapse, and the gRPC one otherwise.
func TestAnnounceSynapse(t *testing.T) {
	for _, announce := range []string{AnnounceGRPC, AnnounceSynapse} {
		t.Run(announce, func(t *testing.T) {
			ch, endpoint := chaintest.Serve(t, chain.Config{})
			r, err := Start(t.Context(), synapseMiner{handlers: []SynapseHandler{pingHandler()}},
				Settings{KeyChainEndpoint: endpoint, KeyAxonAnnounce: announce}, nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = r.Stop() })
			want, protocol := r.Endpoint, chain.ProtocolGRPC
			if announce == AnnounceSynapse {
				want, protocol = strings.TrimPrefix(r.SynapseEndpoint, "http://"), chain.ProtocolSynapse
			}
			assert.Equal(t, map[string]string{r.Hotkey: want}, neuronsAfterBlock(t, ch))
			protocols, err := ch.Protocols(t.Context())
			require.NoError(t, err)
			assert.Equal(t, []chain.Protocol{protocol}, protocols)
		})
	}
}

// TestSynapseSettings checks that the synapse axon takes the axon.*
// limits it shares with the gRPC axon and its own settings, and refuses
// bad values naming the setting.
func TestSynapseSettings(t *testing.T) {
	merged, err := settings.Merge(RuntimeDefaults(), Settings{
		KeyAxonWorkers: "3", KeyAxonQueue: "7", KeyAxonMaxConnections: "5", KeyAxonMaxRequestsInFlight: "8",
		KeyAxonMaxAnswerBytes: "134217728", KeyAxonTimeout: "2s", KeyAxonRequestTimeout: "4s",
		KeyAxonWriteTimeout: "5s", KeyAxonIdleTimeout: "6s",
		KeyAxonAcceptUnsigned: "true", KeyAxonMaxBodyBytes: "4096", KeyAxonHeaderTimeout: "3s",
	})
	require.NoError(t, err)
	s := Settings(merged)
	grpc, err := parseAxonSettings(s)
	require.NoError(t, err)
	c, err := parseSynapseSettings(s, grpc)
	require.NoError(t, err)
	assert.Equal(t, httpaxon.Config{
		AcceptUnsigned: true, ForwardTimeout: 2 * time.Second, Workers: 3, QueueSize: 7,
		MaxBodyBytes: 4096, MaxAnswerBytes: 32 << 20, AnswerBudget: 128 << 20, MaxConnections: 5, MaxRequestsInFlight: 8,
		HeaderTimeout: 3 * time.Second, RequestTimeout: 4 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: 6 * time.Second,
	}, c)

	d, err := parseSynapseSettings(RuntimeDefaults(), axon.Config{})
	require.NoError(t, err)
	assert.False(t, d.AcceptUnsigned, "unsigned requests are refused by default")
	assert.Equal(t, int64(httpaxon.DefaultMaxBodyBytes), d.MaxBodyBytes)

	for key, value := range map[string]string{
		KeyAxonAcceptUnsigned: "yes",
		KeyAxonMaxBodyBytes:   "12",
		KeyAxonHeaderTimeout:  "-1s",
		KeyAxonSynapsePort:    "70000",
	} {
		bad, err := settings.Merge(RuntimeDefaults(), Settings{key: value})
		require.NoError(t, err)
		_, err = parseRuntimeSettings(bad)
		assert.ErrorContains(t, err, "setting "+key, "%s=%s", key, value)
	}
}

// TestStandalonePrintsSynapseEndpoint runs a miner with synapses standalone:
// it prints its synapse axon's URL beside its hotkey and gRPC endpoint.
func TestStandalonePrintsSynapseEndpoint(t *testing.T) {
	stop := make(chan struct{})
	stdout, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runStandalone(synapseMiner{handlers: []SynapseHandler{pingHandler()}}, []string{"-port", "0", "-synapse-port", "0"},
			w, io.Discard, slog.New(slog.DiscardHandler), stop)
		w.Close()
	}()
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "synapse endpoint: ") {
		lines = append(lines, sc.Text())
	}
	lines = append(lines, sc.Text())
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	close(stop)
	require.NoError(t, <-done)
	assert.Regexp(t, `(?m)^hotkey: 5\w+\nendpoint: 127\.0\.0\.1:\d+\nsynapse endpoint: http://127\.0\.0\.1:\d+$`, strings.Join(lines, "\n"))
}
