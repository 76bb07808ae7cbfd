package chain

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// counting counts the metagraph polls of FindEndpoint, so a test can act
// after it has polled without guessing at timing.
type counting struct {
	Subtensor
	polls atomic.Int64
}

func (c *counting) Metagraph(ctx context.Context) ([]*wire.Neuron, error) {
	c.polls.Add(1)
	return c.Subtensor.Metagraph(ctx)
}

func (c *counting) waitPolls(t *testing.T, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return c.polls.Load() >= n },
		30*time.Second, time.Millisecond, "FindEndpoint never polled %d times", n)
}

type found struct {
	n   *wire.Neuron
	err error
}

// findAsync runs FindEndpoint in the background.
func findAsync(ctx context.Context, s Subtensor, hotkey string, maxBlocks int) <-chan found {
	out := make(chan found, 1)
	go func() {
		n, err := FindEndpoint(ctx, s, hotkey, maxBlocks)
		out <- found{n, err}
	}()
	return out
}

// started returns a running 1 ms chain, stopped when the test ends.
func started(t *testing.T) *Chain {
	t.Helper()
	c := newChain(t, time.Millisecond)
	t.Cleanup(c.Start())
	return c
}

func TestFindEndpointFindsRegisteredHotkey(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			c := started(t)
			s := be.connect(t, c)
			require.NoError(t, s.ServeAxon(ctx, axon("bob", "127.0.0.1", 9000)))
			require.NoError(t, s.ServeAxon(ctx, axon("alice", "127.0.0.1", 8091)))

			n, err := FindEndpoint(ctx, s, "alice", DefaultMaxBlocks)
			require.NoError(t, err)
			assert.Equal(t, "alice", n.GetHotkey())
			assert.Equal(t, int64(1), n.GetUid())
			assert.Equal(t, "127.0.0.1:8091", Endpoint(n))
		})
	}
}

func TestFindEndpointGivesUp(t *testing.T) {
	const maxBlocks = 5
	tests := []struct {
		name     string
		register *Axon
		want     string // in the message, after "waited N blocks"
	}{
		{name: "never registered", want: "is not registered"},
		{name: "unspecified ipv4", register: ptr(axon("alice", "0.0.0.0", 8091)), want: "uid 0 is registered at 0.0.0.0:8091 and its ip 0.0.0.0 is unspecified"},
		{name: "unspecified ipv6", register: ptr(axon("alice", "::", 8091)), want: "uid 0 is registered at [::]:8091 and its ip :: is unspecified"},
		{name: "port 0", register: ptr(axon("alice", "127.0.0.1", 0)), want: "uid 0 is registered at 127.0.0.1:0 and its port 0 is not dialable"},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx := context.Background()
					c := started(t)
					s := be.connect(t, c)
					if tt.register != nil {
						require.NoError(t, s.ServeAxon(ctx, *tt.register))
					}
					start, err := s.Block(ctx)
					require.NoError(t, err)
					begin := time.Now()

					n, err := FindEndpoint(ctx, s, "alice", maxBlocks)
					took := time.Since(begin)
					assert.Nil(t, n)
					var nre *NotRegisteredError
					require.ErrorAs(t, err, &nre)
					assert.Equal(t, "alice", nre.Hotkey)
					assert.GreaterOrEqual(t, nre.Blocks, maxBlocks)
					assert.NoError(t, nre.Err)
					end, berr := s.Block(ctx)
					require.NoError(t, berr)
					assert.LessOrEqual(t, uint64(nre.Blocks), end-start, "counted more blocks than the chain made")
					assert.Contains(t, err.Error(), `hotkey "alice"`)
					assert.Positive(t, nre.Waited)
					assert.LessOrEqual(t, nre.Waited, took)
					assert.Contains(t, err.Error(), fmt.Sprintf("after waiting %d blocks (%.1f s)", nre.Blocks, nre.Waited.Seconds()))
					assert.Contains(t, err.Error(), tt.want)
					if tt.register == nil {
						assert.Nil(t, nre.Seen)
					} else {
						require.NotNil(t, nre.Seen)
						assert.Equal(t, tt.register.IP, nre.Seen.GetIp())
					}
				})
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestFindEndpointLateRegistration(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Run("miner starts slowly", func(t *testing.T) {
				ctx := context.Background()
				c := started(t)
				s := &counting{Subtensor: be.connect(t, c)}
				res := findAsync(ctx, s, "alice", 1_000_000)
				s.waitPolls(t, 3)
				require.NoError(t, s.ServeAxon(ctx, axon("alice", "127.0.0.1", 8091)))
				got := <-res
				require.NoError(t, got.err)
				assert.Equal(t, "127.0.0.1:8091", Endpoint(got.n))
			})
			t.Run("unroutable then routable", func(t *testing.T) {
				ctx := context.Background()
				c := started(t)
				s := &counting{Subtensor: be.connect(t, c)}
				require.NoError(t, s.ServeAxon(ctx, axon("bob", "127.0.0.1", 9000)))
				require.NoError(t, s.ServeAxon(ctx, axon("alice", "0.0.0.0", 8091)))
				res := findAsync(ctx, s, "alice", 1_000_000)
				s.waitPolls(t, 3)
				require.NoError(t, s.ServeAxon(ctx, axon("alice", "127.0.0.2", 8092)))
				got := <-res
				require.NoError(t, got.err)
				assert.Equal(t, "127.0.0.2:8092", Endpoint(got.n))
				assert.Equal(t, int64(1), got.n.GetUid(), "re-registration kept the uid")
			})
			t.Run("chain starts late", func(t *testing.T) {
				ctx := context.Background()
				c := newChain(t, time.Millisecond)
				s := &counting{Subtensor: be.connect(t, c)}
				res := findAsync(ctx, s, "alice", 10)
				require.NoError(t, s.ServeAxon(ctx, axon("alice", "127.0.0.1", 8091)))
				s.waitPolls(t, 3) // no blocks: the registration is still queued
				t.Cleanup(c.Start())
				got := <-res
				require.NoError(t, got.err)
				assert.Equal(t, "127.0.0.1:8091", Endpoint(got.n))
			})
		})
	}
}

func TestFindEndpointContext(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Run("canceled while waiting", func(t *testing.T) {
				c := newChain(t, time.Millisecond) // never produces a block
				s := &counting{Subtensor: be.connect(t, c)}
				require.NoError(t, s.ServeAxon(context.Background(), axon("alice", "0.0.0.0", 8091)))
				c.Advance()
				ctx, cancel := context.WithCancel(context.Background())
				res := findAsync(ctx, s, "alice", DefaultMaxBlocks)
				s.waitPolls(t, 2)
				cancel()
				got := <-res
				assert.Nil(t, got.n)
				require.ErrorIs(t, got.err, context.Canceled)
				var nre *NotRegisteredError
				require.ErrorAs(t, got.err, &nre)
				assert.Equal(t, 0, nre.Blocks)
				require.NotNil(t, nre.Seen, "the unroutable entry was seen before the cancel")
				assert.Contains(t, got.err.Error(), "ip 0.0.0.0 is unspecified")
				assert.Contains(t, got.err.Error(), "context canceled")
			})
			t.Run("already canceled", func(t *testing.T) {
				c := started(t)
				s := be.connect(t, c)
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_, err := FindEndpoint(ctx, s, "alice", DefaultMaxBlocks)
				require.ErrorIs(t, err, context.Canceled)
				var nre *NotRegisteredError
				assert.ErrorAs(t, err, &nre)
			})
			t.Run("deadline", func(t *testing.T) {
				c := newChain(t, time.Millisecond)
				s := be.connect(t, c)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				_, err := FindEndpoint(ctx, s, "alice", DefaultMaxBlocks)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Contains(t, err.Error(), `hotkey "alice" is not registered after waiting 0 blocks`)
			})
		})
	}
}

func TestFindEndpointArguments(t *testing.T) {
	c := newChain(t, time.Millisecond)
	tests := []struct {
		name      string
		s         Subtensor
		hotkey    string
		maxBlocks int
		want      string
	}{
		{"nil subtensor", nil, "alice", 1, "subtensor is nil"},
		{"empty hotkey", c, "", 1, `hotkey "" is empty; want the miner's ss58 hotkey address`},
		{"zero maxBlocks", c, "alice", 0, "maxBlocks 0 is out of range; want at least 1 (DefaultMaxBlocks is 100)"},
		{"negative maxBlocks", c, "alice", -3, "maxBlocks -3 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := FindEndpoint(context.Background(), tt.s, tt.hotkey, tt.maxBlocks)
			assert.Nil(t, n)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestFindEndpointChainGone checks that a chain that stops answering is
// reported as such, not as a hotkey that never registered.
func TestFindEndpointChainGone(t *testing.T) {
	c := started(t)
	lis := serve(t, c)
	cl, err := Dial(context.Background(), lis)
	require.NoError(t, err)
	require.NoError(t, cl.Close())
	_, err = FindEndpoint(context.Background(), cl, "alice", DefaultMaxBlocks)
	require.Error(t, err)
	var nre *NotRegisteredError
	assert.NotErrorAs(t, err, &nre)
	assert.Contains(t, err.Error(), `FindEndpoint hotkey "alice"`)
	assert.Contains(t, err.Error(), lis)
}
