// Package chain is the mock Bittensor chain ("subtensor") the host embeds.
//
// The chain produces blocks, keeps the neuron registry that serve_axon
// writes, and serves the metagraph. A miner in another process reaches it
// over a loopback gRPC channel (see Serve and Dial). The host finds a
// miner's axon with FindEndpoint, block by block, as Bittensor's
// QueryBenchmark did.
package chain

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

const (
	// DefaultBlockTime is the block time of a Config that leaves it zero:
	// short, so that a registration is visible almost at once.
	DefaultBlockTime = 50 * time.Millisecond
	// RealBlockTime is the block time of the real Bittensor chain.
	RealBlockTime = 12 * time.Second
)

// Subtensor is the chain as its users see it.
// Both the in-process *Chain and the gRPC *Client satisfy it, so a miner
// and the host need not care which one they hold.
type Subtensor interface {
	// ServeAxon validates an axon and queues its registration; it takes
	// effect at the next block. An invalid axon is refused with *AxonError.
	ServeAxon(ctx context.Context, a Axon) error
	// Metagraph returns a copy of the registered neurons sorted by uid.
	Metagraph(ctx context.Context) ([]*wire.Neuron, error)
	// Block returns the current block number.
	Block(ctx context.Context) (uint64, error)
	// BlockTime returns how often the chain produces a block.
	BlockTime() time.Duration
}

// Config configures a Chain. The zero value is valid.
type Config struct {
	// BlockTime is the time between two blocks once the chain is started.
	// Zero means DefaultBlockTime; negative values are refused.
	BlockTime time.Duration
}

// Chain is the in-process mock chain. Its methods are safe for concurrent use.
type Chain struct {
	blockTime time.Duration

	mu      sync.Mutex
	block   uint64
	neurons []Axon         // indexed by uid
	uids    map[string]int // hotkey → uid
	pending []Axon         // registrations that take effect at the next block
	stop    func()         // stops the running block producer; nil when stopped
}

var _ Subtensor = (*Chain)(nil)

// New validates cfg and returns a chain at block 0 with no neurons.
// It produces blocks only after Start, or by hand with Advance.
func New(cfg Config) (*Chain, error) {
	if cfg.BlockTime < 0 {
		return nil, fmt.Errorf("chain: Config.BlockTime %v is negative; want a positive duration, or 0 for DefaultBlockTime (%v)", cfg.BlockTime, DefaultBlockTime)
	}
	bt := cfg.BlockTime
	if bt == 0 {
		bt = DefaultBlockTime
	}
	return &Chain{blockTime: bt, uids: make(map[string]int)}, nil
}

// BlockTime returns the time between two blocks.
func (c *Chain) BlockTime() time.Duration { return c.blockTime }

// Start makes the chain produce a block every BlockTime.
//
// It returns the stop function. Stop is idempotent and returns once the
// producer goroutine has exited. Calling Start while the chain runs
// returns the running producer's stop. After a stop, Start resumes from
// the current block.
func (c *Chain) Start() (stop func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop != nil {
		return c.stop
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.blockTime)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				c.Advance()
			}
		}
	}()
	var once sync.Once
	c.stop = func() {
		once.Do(func() {
			// Forget this producer first, so that a Start racing with
			// this stop begins a new one.
			c.mu.Lock()
			c.stop = nil
			c.mu.Unlock()
			close(quit)
			<-done
		})
	}
	return c.stop
}

// Advance produces one block at once and returns its number.
//
// The block applies the registrations queued since the previous block.
// Start calls Advance every BlockTime. Tests call it to step the chain by
// hand.
func (c *Chain) Advance() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.block++
	for _, a := range c.pending {
		if uid, ok := c.uids[a.Hotkey]; ok {
			c.neurons[uid] = a
			continue
		}
		c.uids[a.Hotkey] = len(c.neurons)
		c.neurons = append(c.neurons, a)
	}
	c.pending = nil
	return c.block
}

// Block returns the current block number.
func (c *Chain) Block(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.block, nil
}

// ServeAxon validates a and queues its registration.
//
// At the next block, a new hotkey gets the next uid, starting at 0. A
// known hotkey keeps its uid, and its entry is replaced. An invalid axon
// is refused with *AxonError.
func (c *Chain) ServeAxon(ctx context.Context, a Axon) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a, err := a.normalize()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, a)
	return nil
}

// Metagraph returns a copy of the registered neurons, sorted by uid.
// Each has Version set to wire.Version.
func (c *Chain) Metagraph(ctx context.Context) ([]*wire.Neuron, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*wire.Neuron, len(c.neurons))
	for uid, a := range c.neurons {
		out[uid] = &wire.Neuron{
			Version:  wire.Version,
			Uid:      int64(uid),
			Hotkey:   a.Hotkey,
			Coldkey:  a.Coldkey,
			Ip:       a.IP,
			Port:     a.Port,
			IpType:   a.IPType,
			Modality: a.Modality,
		}
	}
	return out, nil
}

// Protocols returns the wire protocol of each registered neuron's axon,
// indexed by uid as Metagraph's neurons, so that a client knows how to
// query it.
func (c *Chain) Protocols(ctx context.Context) ([]Protocol, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Protocol, len(c.neurons))
	for uid, a := range c.neurons {
		out[uid] = a.Protocol
	}
	return out, nil
}
