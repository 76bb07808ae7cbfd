package axon

import (
	"errors"
	"fmt"
	"time"

	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// Defaults of Config, used where a field is zero.
const (
	// DefaultForwardTimeout is Bittensor's axon.forward_timeout.
	DefaultForwardTimeout = 10 * time.Second
	// DefaultWorkers is Bittensor's axon.max_workers.
	DefaultWorkers = 10
	// DefaultQueueSize is the number of calls that may wait for a slot.
	DefaultQueueSize = 100
	// DefaultMaxMessageSize is wire.MaxMessageSize: it fits the largest
	// answer the benchmark asks for, with room for framing.
	DefaultMaxMessageSize = wire.MaxMessageSize
)

// Config configures an Axon. Zero values mean the defaults above.
type Config struct {
	// Wallet is the hotkey the axon answers as (required).
	Wallet *wallet.Keypair
	// ForwardTimeout bounds the time from a call's arrival to its handler's
	// answer, queue wait included: the handler's context ends when it
	// passes, and a call not answered by then answers Timeout. A call
	// waiting for a slot, or whose handler returns when its context ends,
	// is answered Timeout on time; a handler that ignores its context holds
	// its call until it returns, and the call then answers Timeout.
	ForwardTimeout time.Duration
	// Workers is the number of calls that may run the ForwardFunc at once,
	// each on the goroutine serving it: its slots.
	Workers int
	// QueueSize is how many calls may wait for a free slot, in the order
	// they came; a call that finds all slots taken and QueueSize calls
	// waiting answers NucleusFull at once.
	QueueSize int
	// MaxMessageSize bounds received and sent messages in bytes; gRPC refuses
	// a larger request with status RESOURCE_EXHAUSTED before reading it, and
	// a request whose answer would not fit is answered RequestShapeException
	// before the handler runs.
	MaxMessageSize int
}

// withDefaults checks c and returns it with zero fields set to the defaults.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Wallet == nil {
		errs = append(errs, errors.New("axon: Config.Wallet: nil; want a hotkey"))
	}
	if c.ForwardTimeout < 0 {
		errs = append(errs, fmt.Errorf("axon: Config.ForwardTimeout: %v; want 0 (default %v) or more", c.ForwardTimeout, DefaultForwardTimeout))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("axon: Config.Workers: %d; want 0 (default %d) or more", c.Workers, DefaultWorkers))
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("axon: Config.QueueSize: %d; want 0 (default %d) or more", c.QueueSize, DefaultQueueSize))
	}
	if c.MaxMessageSize < 0 {
		errs = append(errs, fmt.Errorf("axon: Config.MaxMessageSize: %d; want 0 (default %d) or more", c.MaxMessageSize, DefaultMaxMessageSize))
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = DefaultForwardTimeout
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	return c, nil
}

var _ wire.BittensorServer = (*Axon)(nil)
