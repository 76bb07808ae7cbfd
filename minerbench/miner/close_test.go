package miner

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/contract"
)

// closingMiner is a Miner whose Forwarder counts its Close calls and
// returns closeErr from each.
type closingMiner struct {
	closes   *atomic.Int32
	closeErr error
}

func newClosingMiner() closingMiner { return closingMiner{closes: new(atomic.Int32)} }

func (closingMiner) Name() string       { return "closing" }
func (closingMiner) Defaults() Settings { return Settings{} }
func (m closingMiner) New(context.Context, Settings, *slog.Logger) (Forwarder, error) {
	return closingForwarder{m}, nil
}

type closingForwarder struct{ m closingMiner }

func (closingForwarder) Forward(context.Context, Tensor) (Tensor, error) {
	return Tensor{}, errors.New("not queried")
}

func (f closingForwarder) Close() error {
	f.m.closes.Add(1)
	return f.m.closeErr
}

// refusingRegistrar is a closingMiner whose Register fails.
type refusingRegistrar struct{ closingMiner }

var errRefused = errors.New("registration refused")

func (refusingRegistrar) Register(context.Context, func(context.Context, AxonInfo) error, AxonInfo) error {
	return errRefused
}

// TestCloseOnFailedStart checks that a start failing after New closes what
// New returned, once.
func TestCloseOnFailedStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	_, takenPort, err := net.SplitHostPort(taken.Addr().String())
	require.NoError(t, err)
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	noChain := gone.Addr().String() // nothing listens there
	require.NoError(t, gone.Close())

	tests := []struct {
		name      string
		miner     func(closingMiner) Miner
		overrides Settings
		want      string
	}{
		{"axon cannot listen", func(m closingMiner) Miner { return m }, Settings{KeyAxonPort: takenPort}, "axon listen"},
		{"announcement fails", func(m closingMiner) Miner { return m }, Settings{KeyChainEndpoint: noChain}, "connection refused"},
		{"registrar fails", func(m closingMiner) Miner { return refusingRegistrar{m} }, Settings{KeyChainEndpoint: noChain}, errRefused.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newClosingMiner()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r, err := Start(ctx, tt.miner(m), tt.overrides, nil)
			require.Error(t, err)
			assert.Nil(t, r)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, int32(1), m.closes.Load(), "Close calls")
		})
	}
}

// TestCloseOnStop checks that Stop closes once, however often it is called,
// and returns Close's error.
func TestCloseOnStop(t *testing.T) {
	m := newClosingMiner()
	m.closeErr = errors.New("flush failed")
	r, err := Start(context.Background(), m, nil, nil)
	require.NoError(t, err)
	assert.Zero(t, m.closes.Load(), "closed while running")
	require.ErrorIs(t, r.Stop(), m.closeErr)
	require.ErrorIs(t, r.Stop(), m.closeErr)
	assert.Equal(t, int32(1), m.closes.Load(), "Close calls")
}

// TestCloseOnPluginShutdown serves a miner as a plugin in-process (go-plugin's
// test mode), runs it through the contract, and ends the plugin: a host's
// Stop closes once, and so does the end of the plugin when no Stop came.
func TestCloseOnPluginShutdown(t *testing.T) {
	for _, stopFirst := range []bool{true, false} {
		name := map[bool]string{true: "stop then shutdown", false: "shutdown"}[stopFirst]
		t.Run(name, func(t *testing.T) {
			m := newClosingMiner()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c, served := servePluginInProcess(t, ctx, m)
			started, err := c.Start(ctx, nil)
			require.NoError(t, err)
			assert.NotEmpty(t, started.Endpoint)
			if stopFirst {
				require.NoError(t, c.Stop(ctx))
				assert.Equal(t, int32(1), m.closes.Load(), "Close calls after Stop")
			}
			cancel() // the plugin's end, as the host's Kill brings it
			<-served
			assert.Equal(t, int32(1), m.closes.Load(), "Close calls")
		})
	}
}

// servePluginInProcess serves m as a plugin in-process (go-plugin's test
// mode) until ctx ends, and returns its controller as the host sees it, and
// a channel closed when the plugin has ended.
func servePluginInProcess(t *testing.T, ctx context.Context, m Miner) (contract.Controller, <-chan struct{}) {
	t.Helper()
	reattach := make(chan *goplugin.ReattachConfig, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		c := &controller{miner: m, log: slog.New(slog.DiscardHandler)}
		servePlugin(c, io.Discard, &goplugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach})
	}()
	var rc *goplugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-time.After(20 * time.Second):
		t.Fatal("the plugin did not serve")
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.PluginSet(nil),
		Reattach:         rc,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	require.NoError(t, err)
	raw, err := rpc.Dispense(contract.PluginName)
	require.NoError(t, err)
	return raw.(contract.Controller), served
}

// TestCloseOnStandaloneSignal runs a miner standalone and ends it with a
// real SIGINT: it stops and closes once.
func TestCloseOnStandaloneSignal(t *testing.T) {
	m := newClosingMiner()
	stdout, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runStandalone(m, []string{"-port", "0"}, w, io.Discard, slog.New(slog.DiscardHandler), nil)
		w.Close()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "endpoint: ") {
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	assert.Zero(t, m.closes.Load(), "closed while serving")
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGINT))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the standalone miner did not stop on SIGINT")
	}
	assert.Equal(t, int32(1), m.closes.Load(), "Close calls")
}

// TestCloseWhenHostIsGone checks that a plugin whose host is gone stops its
// miner, closing it once, before it exits.
func TestCloseWhenHostIsGone(t *testing.T) {
	m := newClosingMiner()
	c := &controller{miner: m, log: slog.New(slog.DiscardHandler)}
	_, err := c.Start(context.Background(), nil)
	require.NoError(t, err)
	var polls atomic.Int32
	getppid := func() int {
		if polls.Add(1) < 3 {
			return 42 // the host, for the first polls
		}
		return 1 // reparented: the host is gone
	}
	watchParent(42, getppid, c.Stop, slog.New(slog.DiscardHandler))
	assert.Equal(t, int32(3), polls.Load(), "returned before the host was gone")
	assert.Equal(t, int32(1), m.closes.Load(), "Close calls")
}
