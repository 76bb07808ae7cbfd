package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/minerbench/minerbench/minerbench/axon"
	"github.com/minerbench/minerbench/minerbench/chain"
	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/minerbench/wire"
)

// Miner is what a miner author implements: a name, the miner's own settings
// with their defaults, and a constructor of its forward function. The runtime
// adds the settings every miner shares (see RuntimeDefaults) and does the rest:
// wallet, axon, listener, chain registration (which a Miner that also
// implements Registrar controls).
type Miner interface {
	// Name names the miner, as benchmark names and the history show it.
	Name() string
	// Defaults returns the miner's own settings and their defaults, such as
	// nucleus.nhid=200. Only keys listed here (or in RuntimeDefaults) can be
	// overridden.
	Defaults() Settings
	// New builds the forward function from the merged settings.
	New(s Settings) (axon.ForwardFunc, error)
}

// Registrar is an optional interface of a Miner that controls how its axon
// is announced on the chain. Without it, Run announces the axon itself and
// fails if the announcement does. With it, Run calls Register once the axon
// serves (and after New) in place of announcing, and fails if Register
// returns an error. announce is serve_axon on the chain of
// subtensor.chain_endpoint; a is what Run would have announced. Register may
// change a before announcing it, announce nothing, or return at once and
// announce later from a goroutine, with a context of its own: ctx is the
// host's Run call's and may end as soon as Run returns. Register is not
// called when no chain is set.
type Registrar interface {
	// Register announces a, or what it makes of a, with announce, now or
	// later; an error it returns fails Run.
	Register(ctx context.Context, announce func(context.Context, chain.Axon) error, a chain.Axon) error
}

// Settings the runtime owns, shared by every miner.
const (
	KeyWalletName     = "wallet.name"
	KeyWalletHotkey   = "wallet.hotkey"
	KeyWalletSeed     = "wallet.seed"
	KeyAxonIP         = "axon.ip"
	KeyAxonPort       = "axon.port"
	KeyAxonExternalIP = "axon.external_ip"
	KeyAxonTimeout    = "axon.forward_timeout"
	KeyAxonWorkers    = "axon.workers"
	KeyAxonQueue      = "axon.queue"
	KeyNetwork        = "subtensor.network"
	KeyChainEndpoint  = "subtensor.chain_endpoint"
)

// RuntimeDefaults returns the settings every miner has, with their defaults:
// a mock wallet (an empty wallet.seed derives the hotkey from wallet.name and
// wallet.hotkey), an axon on a free loopback port, and no chain (an empty
// subtensor.chain_endpoint registers nowhere).
func RuntimeDefaults() Settings {
	return Settings{
		KeyWalletName:     "default",
		KeyWalletHotkey:   "default",
		KeyWalletSeed:     "",
		KeyAxonIP:         "127.0.0.1",
		KeyAxonPort:       "0",
		KeyAxonExternalIP: "",
		KeyAxonTimeout:    axon.DefaultForwardTimeout.String(),
		KeyAxonWorkers:    "0",
		KeyAxonQueue:      "0",
		KeyNetwork:        "mock",
		KeyChainEndpoint:  "",
	}
}

// runtime turns a Miner into a Controller: it serves the miner's axon and
// registers it on the chain.
type runtime struct {
	miner Miner
	log   hclog.Logger

	mu   sync.Mutex
	axon *axon.Axon
	done chan struct{}
}

func newRuntime(m Miner, log hclog.Logger) *runtime {
	return &runtime{miner: m, log: log}
}

func (r *runtime) defaults() Settings {
	s := RuntimeDefaults()
	for k, v := range r.miner.Defaults() {
		s[k] = v
	}
	return s
}

// Info implements Controller.
func (r *runtime) Info(context.Context) (Info, error) {
	return Info{Name: r.miner.Name(), Defaults: r.defaults()}, nil
}

// Run implements Controller: it builds the miner, serves its axon and
// registers it on the chain named by subtensor.chain_endpoint.
func (r *runtime) Run(ctx context.Context, overrides Settings) (Started, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.axon != nil {
		return Started{}, errors.New("miner is already running")
	}
	s, err := r.defaults().Merge(overrides)
	if err != nil {
		return Started{}, fmt.Errorf("miner %s: %w", r.miner.Name(), err)
	}
	cfg, err := parseRuntimeSettings(s)
	if err != nil {
		return Started{}, fmt.Errorf("miner %s: %w", r.miner.Name(), err)
	}
	forward, err := r.miner.New(s)
	if err != nil {
		return Started{}, fmt.Errorf("miner %s: %w", r.miner.Name(), err)
	}
	ax, err := axon.New(axon.Config{
		Wallet:         cfg.hotkey,
		ForwardTimeout: cfg.forwardTimeout,
		Workers:        cfg.workers,
		QueueSize:      cfg.queue,
	}, forward)
	if err != nil {
		return Started{}, fmt.Errorf("miner %s: %w", r.miner.Name(), err)
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.ip, strconv.Itoa(cfg.port)))
	if err != nil {
		return Started{}, fmt.Errorf("miner %s: axon listen: %w", r.miner.Name(), err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ax.Serve(lis); err != nil {
			r.log.Error("axon stopped", "error", err)
		}
	}()
	port := lis.Addr().(*net.TCPAddr).Port
	started := Started{Hotkey: cfg.hotkey.SS58(), Endpoint: net.JoinHostPort(cfg.ip, strconv.Itoa(port))}
	r.log.Info("axon serving", "hotkey", started.Hotkey, "endpoint", started.Endpoint)
	if cfg.chainEndpoint != "" {
		axonReg := chain.Axon{
			Hotkey:   started.Hotkey,
			Coldkey:  cfg.coldkey.SS58(),
			IP:       cfg.externalIP,
			Port:     int32(port),
			IPType:   ipType(cfg.externalIP),
			Modality: wire.Modality_TEXT,
		}
		announce := func(ctx context.Context, a chain.Axon) error {
			if err := register(ctx, cfg.chainEndpoint, a); err != nil {
				return err
			}
			r.log.Info("axon registered", "chain", cfg.chainEndpoint, "ip", a.IP, "port", a.Port)
			return nil
		}
		if registrar, ok := r.miner.(Registrar); ok {
			err = registrar.Register(ctx, announce, axonReg)
		} else {
			err = announce(ctx, axonReg)
		}
		if err != nil {
			ax.Stop()
			<-done
			return Started{}, fmt.Errorf("miner %s: %w", r.miner.Name(), err)
		}
	}
	r.axon, r.done = ax, done
	return started, nil
}

// Stop implements Controller: it stops the axon gracefully. It is idempotent.
func (r *runtime) Stop(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.axon == nil {
		return nil
	}
	r.axon.Stop()
	<-r.done
	r.axon, r.done = nil, nil
	return nil
}

// register announces reg on the chain at endpoint, as serve_axon did.
func register(ctx context.Context, endpoint string, reg chain.Axon) error {
	c, err := chain.Dial(ctx, endpoint)
	if err != nil {
		return fmt.Errorf("chain %s: %w", endpoint, err)
	}
	defer c.Close()
	if err := c.ServeAxon(ctx, reg); err != nil {
		return fmt.Errorf("serve_axon on chain %s: %w", endpoint, err)
	}
	return nil
}

func ipType(ip string) int32 {
	if a := net.ParseIP(ip); a != nil && a.To4() == nil {
		return 6
	}
	return 4
}

// runtimeConfig is the parsed form of the runtime's settings.
type runtimeConfig struct {
	hotkey, coldkey *wallet.Keypair
	ip, externalIP  string
	port            int
	forwardTimeout  time.Duration
	workers, queue  int
	chainEndpoint   string
}

func parseRuntimeSettings(s Settings) (runtimeConfig, error) {
	var c runtimeConfig
	var err error
	name, hot := s[KeyWalletName], s[KeyWalletHotkey]
	if name == "" || hot == "" {
		return c, fmt.Errorf("settings %s=%q %s=%q: want non-empty wallet and hotkey names", KeyWalletName, name, KeyWalletHotkey, hot)
	}
	if seed := s[KeyWalletSeed]; seed != "" {
		if c.hotkey, err = wallet.FromHexSeed(seed); err != nil {
			return c, fmt.Errorf("setting %s: %w", KeyWalletSeed, err)
		}
	} else {
		c.hotkey = wallet.Mock(name + "/" + hot)
	}
	c.coldkey = wallet.Mock(name)
	c.ip = s[KeyAxonIP]
	if net.ParseIP(c.ip) == nil {
		return c, fmt.Errorf("setting %s=%q: want an IP address such as 127.0.0.1", KeyAxonIP, c.ip)
	}
	c.externalIP = s[KeyAxonExternalIP]
	if c.externalIP == "" {
		c.externalIP = c.ip
	} else if net.ParseIP(c.externalIP) == nil {
		return c, fmt.Errorf("setting %s=%q: want an IP address, or empty for %s", KeyAxonExternalIP, c.externalIP, KeyAxonIP)
	}
	if c.port, err = s.Int(KeyAxonPort, 0, 65535); err != nil {
		return c, err
	}
	if c.forwardTimeout, err = s.Duration(KeyAxonTimeout); err != nil {
		return c, err
	}
	if c.workers, err = s.Int(KeyAxonWorkers, 0, 4096); err != nil {
		return c, err
	}
	if c.queue, err = s.Int(KeyAxonQueue, 0, 1<<20); err != nil {
		return c, err
	}
	c.chainEndpoint = s[KeyChainEndpoint]
	return c, nil
}
