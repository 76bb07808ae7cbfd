package miner

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/chaintest"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// plainMiner is a Miner without Registrar.
type plainMiner struct{}

func (plainMiner) Name() string       { return "plain" }
func (plainMiner) Defaults() Settings { return Settings{} }
func (plainMiner) New(context.Context, Settings, *slog.Logger) (Forwarder, error) {
	return ForwardFunc(func(context.Context, Tensor) (Tensor, error) {
		return Tensor{}, errors.New("not queried")
	}), nil
}

// registrarMiner is a Miner whose Register is register.
type registrarMiner struct {
	plainMiner
	register func(ctx context.Context, announce func(context.Context, AxonInfo) error, a AxonInfo) error
}

func (m registrarMiner) Register(ctx context.Context, announce func(context.Context, AxonInfo) error, a AxonInfo) error {
	return m.register(ctx, announce, a)
}

// neuronsAfterBlock advances ch by one block and returns its metagraph as
// hotkey → ip:port.
func neuronsAfterBlock(t *testing.T, ch *chain.Chain) map[string]string {
	t.Helper()
	ch.Advance()
	neurons, err := ch.Metagraph(context.Background())
	require.NoError(t, err)
	out := map[string]string{}
	for _, n := range neurons {
		out[n.GetHotkey()] = chain.Endpoint(n)
	}
	return out
}

func TestRunRegistrar(t *testing.T) {
	hotkey := wallet.Mock("default/default").SS58()
	errRefused := errors.New("registration refused")
	tests := []struct {
		name     string
		miner    Miner
		wantErr  error
		wantIP   string // "" when nothing is registered
		gotAxons int    // announce calls the Registrar saw
	}{
		{"no registrar announces itself", plainMiner{}, nil, "127.0.0.1", 0},
		{"registrar announces as given", registrarMiner{register: func(ctx context.Context, announce func(context.Context, AxonInfo) error, a AxonInfo) error {
			return announce(ctx, a)
		}}, nil, "127.0.0.1", 1},
		{"registrar announces unspecified ip", registrarMiner{register: func(ctx context.Context, announce func(context.Context, AxonInfo) error, a AxonInfo) error {
			a.IP = "0.0.0.0"
			return announce(ctx, a)
		}}, nil, "0.0.0.0", 1},
		{"registrar announces nothing", registrarMiner{register: func(context.Context, func(context.Context, AxonInfo) error, AxonInfo) error {
			return nil
		}}, nil, "", 0},
		{"registrar fails", registrarMiner{register: func(context.Context, func(context.Context, AxonInfo) error, AxonInfo) error {
			return errRefused
		}}, errRefused, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, endpoint := chaintest.Serve(t, chain.Config{}) // blocks come from Advance
			var seen []AxonInfo
			if rm, ok := tt.miner.(registrarMiner); ok {
				inner := rm.register
				rm.register = func(ctx context.Context, announce func(context.Context, AxonInfo) error, a AxonInfo) error {
					return inner(ctx, func(ctx context.Context, a AxonInfo) error {
						seen = append(seen, a)
						return announce(ctx, a)
					}, a)
				}
				tt.miner = rm
			}
			started, err := Start(context.Background(), tt.miner, Settings{KeyChainEndpoint: endpoint}, nil)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), "miner plain: ")
				assert.Nil(t, started, "a failed start leaves no axon serving")
				assert.Empty(t, neuronsAfterBlock(t, ch))
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = started.Stop() })
			assert.Equal(t, hotkey, started.Hotkey)
			_, port, err := net.SplitHostPort(started.Endpoint)
			require.NoError(t, err)
			assert.Len(t, seen, tt.gotAxons)
			for _, a := range seen {
				assert.Equal(t, hotkey, a.Hotkey)
				assert.Equal(t, port, strconv.Itoa(int(a.Port)))
			}
			neurons := neuronsAfterBlock(t, ch)
			if tt.wantIP == "" {
				assert.Empty(t, neurons)
			} else {
				assert.Equal(t, map[string]string{hotkey: net.JoinHostPort(tt.wantIP, port)}, neurons)
			}
		})
	}
}

// TestRunRegistrarLate announces after Run has returned, with a context of
// its own, as a miner that registers late does.
func TestRunRegistrarLate(t *testing.T) {
	ch, endpoint := chaintest.Serve(t, chain.Config{}) // blocks come from Advance
	release := make(chan struct{})
	announced := make(chan error, 1)
	m := registrarMiner{register: func(_ context.Context, announce func(context.Context, AxonInfo) error, a AxonInfo) error {
		go func() {
			<-release
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			announced <- announce(ctx, a)
		}()
		return nil
	}}
	runCtx, endRun := context.WithCancel(context.Background())
	started, err := Start(runCtx, m, Settings{KeyChainEndpoint: endpoint}, nil)
	endRun() // as the host's Run call ends
	require.NoError(t, err)
	t.Cleanup(func() { _ = started.Stop() })
	assert.Empty(t, neuronsAfterBlock(t, ch), "registered before the Registrar announced")

	close(release)
	require.NoError(t, <-announced)
	assert.Equal(t, map[string]string{started.Hotkey: started.Endpoint}, neuronsAfterBlock(t, ch))
}
