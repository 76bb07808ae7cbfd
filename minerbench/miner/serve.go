package miner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/minerbench/minerbench/minerbench/internal/contract"
	"github.com/minerbench/minerbench/minerbench/internal/settings"
)

// parentPollInterval is how often a plugin checks that its host is alive.
const parentPollInterval = 100 * time.Millisecond

// orphanStopTimeout bounds the stop of a miner whose host is gone.
const orphanStopTimeout = 5 * time.Second

// Serve runs m, and is all a miner's main needs.
//
// When the host launched the process, Serve runs m as a plugin of the
// benchmark host. Otherwise it runs m as a standalone axon, configured by
// command-line flags (see -h). The miner's log goes to stderr. That is the
// logger New receives, tagged with the miner's name. The host keeps stderr
// in the miner's log file, with anything else the miner writes to
// os.Stdout or os.Stderr. Standalone, the endpoint is printed to stdout.
func Serve(m Miner) {
	stderr := os.Stderr // go-plugin's Serve replaces os.Stderr with a pipe
	log := newLogger(m, stderr)
	if os.Getenv(contract.Handshake.MagicCookieKey) != contract.Handshake.MagicCookieValue {
		err := runStandalone(m, os.Args[1:], os.Stdout, stderr, log, nil)
		switch {
		case errors.Is(err, flag.ErrHelp):
			os.Exit(0)
		case err != nil:
			fmt.Fprintf(stderr, "%s: %v\n", m.Name(), err)
			os.Exit(2)
		}
		return
	}
	c := &controller{miner: m, log: log}
	go func() {
		// A host killed without a chance to clean up (SIGKILL, a test
		// timeout) must leave no miner behind.
		watchParent(os.Getppid(), os.Getppid, c.Stop, log)
		os.Exit(3)
	}()
	servePlugin(c, stderr, nil)
}

// newLogger returns the log of m, text lines on w tagged with m's name.
func newLogger(m Miner, w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil)).With("miner", m.Name())
}

// servePlugin serves c to the host over go-plugin until the host ends it.
// Then it stops the miner if it still runs. test, when set, serves
// in-process, in go-plugin's test mode.
func servePlugin(c *controller, stderr io.Writer, test *goplugin.ServeTestConfig) {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: contract.Handshake,
		Plugins:         contract.PluginSet(c),
		GRPCServer:      goplugin.DefaultGRPCServer,
		Logger:          hclog.New(&hclog.LoggerOptions{Name: c.miner.Name(), Output: stderr, Level: hclog.Warn}),
		Test:            test,
	})
	if err := c.Stop(context.Background()); err != nil {
		c.log.Error("stop", "error", err)
	}
}

// watchParent stops the miner once the process's parent is gone.
//
// The parent is gone when getppid no longer returns parent. watchParent
// then calls stop, waits at most orphanStopTimeout, and returns.
func watchParent(parent int, getppid func() int, stop func(context.Context) error, log *slog.Logger) {
	tick := time.NewTicker(parentPollInterval)
	defer tick.Stop()
	for getppid() == parent {
		<-tick.C
	}
	log.Warn("host process is gone; stopping and exiting", "host_pid", parent)
	ctx, cancel := context.WithTimeout(context.Background(), orphanStopTimeout)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- stop(ctx) }()
	select {
	case err := <-stopped:
		if err != nil {
			log.Error("stop", "error", err)
		}
	case <-ctx.Done():
		log.Error("stop", "error", "not stopped within "+orphanStopTimeout.String())
	}
}

// controller is the contract.Controller of a Miner.
type controller struct {
	miner Miner
	log   *slog.Logger

	mu      sync.Mutex
	running *Running
}

// Info implements contract.Controller.
func (c *controller) Info(context.Context) (contract.Info, error) {
	return contract.Info{Name: c.miner.Name(), Defaults: defaults(c.miner)}, nil
}

// Start implements contract.Controller. It starts the miner.
func (c *controller) Start(ctx context.Context, overrides map[string]string) (contract.Started, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running != nil {
		return contract.Started{}, errors.New("miner is already running")
	}
	r, err := Start(ctx, c.miner, overrides, c.log)
	if err != nil {
		return contract.Started{}, err
	}
	c.running = r
	return contract.Started{Hotkey: r.Hotkey, Endpoint: r.Endpoint, SynapseEndpoint: r.SynapseEndpoint}, nil
}

// Stop implements contract.Controller. It stops the miner, if it runs.
func (c *controller) Stop(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == nil {
		return nil
	}
	err := c.running.Stop()
	c.running = nil
	return err
}

// runStandalone serves m as a plain axon, configured by args.
//
// It serves until SIGINT or SIGTERM, or until a test closes stop. It
// prints the hotkey and the endpoint to stdout, and its usage and errors
// to stderr.
func runStandalone(m Miner, args []string, stdout, stderr io.Writer, log *slog.Logger, stop <-chan struct{}) error {
	fs := flag.NewFlagSet(m.Name(), flag.ContinueOnError)
	fs.SetOutput(stderr)
	ip := fs.String("ip", "127.0.0.1", "IP address the axon listens on")
	port := fs.Int("port", 8091, "TCP port the axon listens on (0 picks a free one)")
	seed := fs.String("seed", "", "hotkey secret seed as 0x-prefixed hex (default: a mock key from -wallet)")
	walletName := fs.String("wallet", "default", "mock wallet name the hotkey derives from when -seed is empty")
	synapsePort := fs.Int("synapse-port", 8092, "TCP port of the HTTP synapse axon, for a miner that serves synapses (0 picks a free one)")
	chainEndpoint := fs.String("chain", "", "host:port of a minerbench chain to register on (default: none)")
	overrides := Settings{}
	fs.Func("set", "override a setting, key=value (repeatable), e.g. -set nucleus.nhid=600", func(s string) error {
		k, v, err := settings.ParseAssignment(s)
		if err == nil {
			overrides[k] = v
		}
		return err
	})
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\nServes the %s miner as a standalone axon.\n\nFlags:\n", m.Name(), m.Name())
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nSettings and their defaults (-set key=value):\n")
		var table strings.Builder
		tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
		d := defaults(m)
		for _, k := range d.Keys() {
			fmt.Fprintf(tw, "  %s=%s\t%s\n", k, d[k], runtimeNotes[k])
		}
		tw.Flush()
		for line := range strings.Lines(table.String()) {
			fmt.Fprintln(stderr, strings.TrimRight(line, " \n"))
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; settings go through -set key=value", fs.Args())
	}
	overrides[KeyAxonIP] = *ip
	overrides[KeyAxonPort] = fmt.Sprint(*port)
	overrides[KeyAxonSynapsePort] = fmt.Sprint(*synapsePort)
	overrides[KeyWalletName] = *walletName
	overrides[KeyWalletSeed] = *seed
	overrides[KeyChainEndpoint] = *chainEndpoint

	// Catch the signals before the endpoint is printed: whoever reads it may
	// send one at once, and must get a clean stop rather than the default
	// death by signal.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	r, err := Start(context.Background(), m, overrides, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "miner %s serving\nhotkey: %s\nendpoint: %s\n", m.Name(), r.Hotkey, r.Endpoint)
	if r.SynapseEndpoint != "" {
		fmt.Fprintf(stdout, "synapse endpoint: %s\n", r.SynapseEndpoint)
	}

	select {
	case sig := <-signals:
		log.Info("stopping", "signal", sig.String())
	case <-stop:
	}
	return r.Stop()
}
