package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/miner"
)

// LogFile is the name of a miner's log in its results directory.
// Bittensor 2.0.4's QueryBenchmark named its record_log file so.
const LogFile = "logs.log"

// ErrInterrupted marks work stopped by SIGINT or SIGTERM.
var ErrInterrupted = errors.New("interrupted by a signal")

// Starter starts miner plugins against one chain.
//
// A start has two bounds. LaunchTimeout bounds what every miner does at
// once, go-plugin's handshake and the first Info call. So a miner that
// cannot even start fails in seconds. StartTimeout bounds the whole start,
// which includes loading a model and registering on the chain.
type Starter struct {
	// Chain is the chain the miners register on. ChainEndpoint is its
	// host:port, which the miners are given.
	Chain         *chain.Chain
	ChainEndpoint string
	// LaunchTimeout bounds each miner's handshake and first Info call.
	LaunchTimeout time.Duration
	// StartTimeout bounds each miner's whole start, from its launch to its
	// axon on the chain.
	StartTimeout time.Duration
	// LogLimit caps the bytes of each miner's log this run writes. Zero is
	// no cap (see Config.LogLimit).
	LogLimit int64
	// Echo, when non-nil, receives a copy of every miner's log.
	Echo io.Writer
	// Status, when non-nil, is told what a miner's start waits for.
	// It is told "" once the start is over.
	Status func(miner, text string)
	// Own hands the stop of a launched miner to the caller. Required.
	//
	// A signal can then stop the miner while it starts. Once the caller
	// is stopping, Own runs stop itself and returns false.
	Own func(stop func()) bool
}

// Instance is a miner Start launched and found on the chain.
type Instance struct {
	*Process
	// Defaults are the miner's settings and their defaults, from its Info.
	Defaults miner.Settings
	// Hotkey is the SS58 address of the miner's hotkey.
	Hotkey string
	// Endpoint is the host:port of the miner's 2.0.x axon: the chain's
	// record of its axon, or, when the miner announced its synapse axon
	// instead, what the miner told.
	Endpoint string
	// SynapseURL is the http://host:port of the miner's HTTP synapse axon,
	// or "" when it serves none: the chain's record of its axon when that
	// is a synapse axon, else what the miner told.
	SynapseURL string

	log  *os.File
	once sync.Once
}

// Close stops the miner's process and closes its log. It is idempotent.
func (in *Instance) Close() {
	in.once.Do(func() {
		if in.Process != nil {
			in.Kill()
		}
		if in.log != nil {
			_ = in.log.Close()
		}
	})
}

// Start launches a miner and waits for its axon on the chain.
//
// It launches miner name from binary and hands it its settings, all within
// the start timeout. Then it waits for the axon, as QueryBenchmark did.
// Everything the miner writes is appended to its log in dir, after a
// header line of this run.
//
// On error nothing of the miner runs. The returned Instance then carries
// only the Defaults the miner told, if any. The error gives the reason,
// with the log's last lines.
func (s Starter) Start(ctx context.Context, name, binary, dir string, o Overrides) (*Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, s.StartTimeout)
	defer cancel()
	st := &starting{Starter: s, name: name, ctx: ctx, logPath: filepath.Join(dir, LogFile), in: &Instance{}}
	st.deadline, _ = ctx.Deadline()
	st.status("Starting miner " + name + " …")
	defer st.status("")
	if err := st.steps(binary, o); err != nil {
		return &Instance{Defaults: st.in.Defaults}, st.fail(err)
	}
	return st.in, nil
}

// starting is one miner's start.
type starting struct {
	Starter
	name     string
	ctx      context.Context // ends at the start timeout
	deadline time.Time       // ctx's
	logPath  string
	in       *Instance
}

// steps are the start's steps, in order.
func (st *starting) steps(binary string, o Overrides) error {
	if err := st.openLog(binary); err != nil {
		return err
	}
	if err := st.launch(binary); err != nil {
		return err
	}
	if err := st.serve(o); err != nil {
		return err
	}
	return st.waitForAxon()
}

func (st *starting) status(text string) {
	if st.Status != nil {
		st.Status(st.name, text)
	}
}

// openLog opens the miner's log for appending and writes this run's header.
func (st *starting) openLog(binary string) error {
	f, err := os.OpenFile(st.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	st.in.log = f
	fmt.Fprintf(f, "=== %s minerbench: launching miner %s (%s)\n", time.Now().Format(time.RFC3339), st.name, binary)
	return nil
}

// launch starts the plugin and asks for its Info within the launch
// timeout.
func (st *starting) launch(binary string) error {
	ctx, cancel := context.WithTimeout(st.ctx, st.LaunchTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var log io.Writer = st.in.log
	if st.Echo != nil {
		log = io.MultiWriter(st.in.log, st.Echo)
	}
	err := st.handshake(ctx, binary, log)
	if err != nil && deadline.Before(st.deadline) && past(ctx, deadline) {
		err = fmt.Errorf("did not complete go-plugin's handshake and answer Info within -mb.launch-timeout=%v: %w", st.LaunchTimeout, err)
	}
	return err
}

// handshake launches the plugin, hands its stop to Own and reads its
// Info.
func (st *starting) handshake(ctx context.Context, binary string, log io.Writer) error {
	proc, err := Launch(ctx, Config{Path: binary, Log: log, LogLimit: st.LogLimit})
	if err != nil {
		return err
	}
	st.in.Process = proc
	if !st.Own(st.in.Close) {
		return ErrInterrupted
	}
	info, err := proc.Info(ctx)
	if err != nil {
		return fmt.Errorf("info: %w", err)
	}
	st.in.Defaults = info.Defaults
	return nil
}

// serve hands the miner its settings.
// It returns once the miner's axon serves.
func (st *starting) serve(o Overrides) error {
	started, err := st.in.Start(st.ctx, o.settingsFor(st.name, st.ChainEndpoint, st.in.Defaults))
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	st.in.Hotkey, st.in.Endpoint, st.in.SynapseURL = started.Hotkey, started.Endpoint, started.SynapseEndpoint
	return nil
}

// waitForAxon waits for the miner's axon on the chain.
// It waits for the blocks left before the deadline, or until the miner
// exits.
func (st *starting) waitForAxon() error {
	ctx, cancel := untilExit(st.ctx, st.in.Process)
	defer cancel()
	st.status("Starting miner " + st.name + ": waiting for its axon on the chain …")
	neuron, err := chain.FindEndpoint(ctx, st.Chain, st.in.Hotkey, st.blocksLeft())
	if err != nil {
		if st.in.Exited() {
			return errors.New("exited before its axon was registered")
		}
		err = fmt.Errorf("%w; the miner's log is in %s", err, st.logPath)
		if st.ctx.Err() == nil && !st.timedOut() { // the blocks of the start timeout ran out
			err = st.late(err)
		}
		return err
	}
	protocols, err := st.Chain.Protocols(ctx)
	if err != nil {
		return err
	}
	// The chain's record wins: it is where a validator would query.
	if uid := neuron.GetUid(); uid < int64(len(protocols)) && protocols[uid] == chain.ProtocolSynapse {
		st.in.SynapseURL = "http://" + chain.Endpoint(neuron)
	} else {
		st.in.Endpoint = chain.Endpoint(neuron)
	}
	return nil
}

// fail stops what the start started and returns err, explained.
// The error says whether the start timeout cut the start, how the miner
// ended, and its log's last lines.
func (st *starting) fail(err error) error {
	if st.timedOut() {
		err = st.late(err)
	}
	err = fmt.Errorf("miner %s: %w", st.name, err)
	if st.in.Process != nil {
		err = st.in.Explain(err)
	}
	st.in.Close()
	return err
}

// timedOut reports whether the start timeout has passed.
func (st *starting) timedOut() bool { return past(st.ctx, st.deadline) }

func (st *starting) late(err error) error {
	return fmt.Errorf("did not start within -mb.start-timeout=%v: %w", st.StartTimeout, err)
}

// past reports whether ctx ended by its deadline.
// It reads the clock, because a call the deadline cut can return before
// ctx says so.
func past(ctx context.Context, deadline time.Time) bool {
	return !errors.Is(ctx.Err(), context.Canceled) && !time.Now().Before(deadline)
}

// blocksLeft returns how many blocks fit before the deadline, at least 1.
func (st *starting) blocksLeft() int {
	return max(1, int(math.Ceil(float64(time.Until(st.deadline))/float64(st.Chain.BlockTime()))))
}

// untilExit returns a context that ends with ctx or once p has exited.
func untilExit(ctx context.Context, p *Process) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for ctx.Err() == nil && !p.Exited() {
			time.Sleep(exitPollInterval)
		}
		cancel()
	}()
	return ctx, cancel
}
