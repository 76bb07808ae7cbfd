package chain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// DefaultMaxBlocks is how many blocks a miner's axon has to appear on the
// chain.
//
// Bittensor 2.0.4's QueryBenchmark waited as long.
const DefaultMaxBlocks = 100

// NotRegisteredError says FindEndpoint gave up.
// The hotkey did not appear with a routable axon within the blocks it
// waited.
type NotRegisteredError struct {
	// Hotkey is the hotkey looked for.
	Hotkey string
	// Blocks is how many blocks FindEndpoint waited.
	Blocks int
	// Waited is how long FindEndpoint waited.
	Waited time.Duration
	// Seen is the hotkey's last metagraph entry, whose axon was unroutable,
	// or nil if the hotkey never appeared.
	Seen *wire.Neuron
	// Err is the context's error if the context ended first, or nil if
	// the blocks ran out.
	Err error
}

// Error says how many blocks were waited and, if the hotkey was seen, why its
// axon cannot be dialed.
func (e *NotRegisteredError) Error() string {
	var msg string
	waited := fmt.Sprintf("%d blocks (%.1f s)", e.Blocks, e.Waited.Seconds())
	if e.Seen == nil {
		msg = fmt.Sprintf("chain: hotkey %q is not registered after waiting %s", e.Hotkey, waited)
	} else {
		msg = fmt.Sprintf("chain: hotkey %q has no routable axon after waiting %s: uid %d is registered at %s and its %s; want the miner to serve_axon a dialable ip and a port other than 0",
			e.Hotkey, waited, e.Seen.GetUid(), Endpoint(e.Seen), unroutable(e.Seen))
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the context's error, if that is why FindEndpoint stopped.
func (e *NotRegisteredError) Unwrap() error { return e.Err }

// FindEndpoint waits for hotkey's routable axon and returns its entry.
//
// It polls s's metagraph at least once per block. A routable axon has an
// IP that is not unspecified and a port other than 0. After maxBlocks
// blocks without one, or when ctx ends, FindEndpoint returns a
// *NotRegisteredError. On a chain that produces no blocks, it waits until
// ctx ends.
func FindEndpoint(ctx context.Context, s Subtensor, hotkey string, maxBlocks int) (*wire.Neuron, error) {
	switch {
	case s == nil:
		return nil, errors.New("chain: FindEndpoint subtensor is nil; want a *Chain or a *Client")
	case hotkey == "":
		return nil, errors.New(`chain: FindEndpoint hotkey "" is empty; want the miner's ss58 hotkey address`)
	case maxBlocks < 1:
		return nil, fmt.Errorf("chain: FindEndpoint maxBlocks %d is out of range; want at least 1 (DefaultMaxBlocks is %d)", maxBlocks, DefaultMaxBlocks)
	}
	begin := time.Now()
	start, err := s.Block(ctx)
	if err != nil {
		return nil, findError(ctx, hotkey, 0, begin, nil, err)
	}
	tick := time.NewTicker(max(s.BlockTime()/2, time.Millisecond))
	defer tick.Stop()
	var seen *wire.Neuron
	waited := 0
	for {
		// The block is read before the metagraph, so the metagraph is at
		// least as new as the block counted.
		now, err := s.Block(ctx)
		if err != nil {
			return nil, findError(ctx, hotkey, waited, begin, seen, err)
		}
		start = min(start, now) // a chain restarted from block 0
		waited = int(now - start)
		neurons, err := s.Metagraph(ctx)
		if err != nil {
			return nil, findError(ctx, hotkey, waited, begin, seen, err)
		}
		for _, n := range neurons {
			if n.GetHotkey() == hotkey {
				seen = n
				break
			}
		}
		if seen != nil && unroutable(seen) == "" {
			return seen, nil
		}
		if waited >= maxBlocks {
			return nil, &NotRegisteredError{Hotkey: hotkey, Blocks: waited, Waited: time.Since(begin), Seen: seen}
		}
		select {
		case <-ctx.Done():
			return nil, &NotRegisteredError{Hotkey: hotkey, Blocks: waited, Waited: time.Since(begin), Seen: seen, Err: ctx.Err()}
		case <-tick.C:
		}
	}
}

// findError returns err from the chain.
// When the context's end made the call fail, it reports that instead.
func findError(ctx context.Context, hotkey string, waited int, begin time.Time, seen *wire.Neuron, err error) error {
	ended := ctx.Err()
	switch {
	case ended != nil:
	case errors.Is(err, context.Canceled):
		ended = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		ended = context.DeadlineExceeded
	default:
		return fmt.Errorf("chain: FindEndpoint hotkey %q: %w", hotkey, err)
	}
	return &NotRegisteredError{Hotkey: hotkey, Blocks: waited, Waited: time.Since(begin), Seen: seen, Err: ended}
}
