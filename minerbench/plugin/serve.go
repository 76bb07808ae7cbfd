package plugin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// parentPollInterval is how often a plugin checks that its host is alive.
const parentPollInterval = 100 * time.Millisecond

// Serve runs m: as a go-plugin plugin when a host launched it, otherwise as a
// standalone axon configured by command-line flags (see -h). It is the whole
// of a miner's main. It logs to stderr; stdout belongs to go-plugin's handshake.
func Serve(m Miner) {
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		err := runStandalone(m, os.Args[1:], os.Stdout, os.Stderr, nil)
		switch {
		case errors.Is(err, flag.ErrHelp):
			os.Exit(0)
		case err != nil:
			fmt.Fprintf(os.Stderr, "%s: %v\n", m.Name(), err)
			os.Exit(2)
		}
		return
	}
	log := hclog.New(&hclog.LoggerOptions{Name: m.Name(), Output: os.Stderr, Level: hclog.Info})
	rt := newRuntime(m, log)
	go exitWithParent(os.Getppid(), log)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         pluginSet(rt),
		GRPCServer:      goplugin.DefaultGRPCServer,
		Logger:          log,
	})
	_ = rt.Stop(context.Background())
}

// exitWithParent ends the process when its parent dies, so that a host killed
// without a chance to clean up (SIGKILL, a test timeout) leaves no miner behind.
func exitWithParent(parent int, log hclog.Logger) {
	for range time.Tick(parentPollInterval) {
		if os.Getppid() != parent {
			log.Warn("host process is gone; exiting", "host_pid", parent)
			os.Exit(3)
		}
	}
}

// runStandalone serves m as a plain axon, configured by args, until SIGINT or
// SIGTERM, or until stop is closed (for tests). It prints the hotkey and the
// endpoint to stdout.
func runStandalone(m Miner, args []string, stdout, stderr io.Writer, stop <-chan struct{}) error {
	fs := flag.NewFlagSet(m.Name(), flag.ContinueOnError)
	fs.SetOutput(stderr)
	ip := fs.String("ip", "127.0.0.1", "IP address the axon listens on")
	port := fs.Int("port", 8091, "TCP port the axon listens on (0 picks a free one)")
	seed := fs.String("seed", "", "hotkey secret seed as 0x-prefixed hex (default: a mock key from -wallet)")
	walletName := fs.String("wallet", "default", "mock wallet name the hotkey derives from when -seed is empty")
	chainEndpoint := fs.String("chain", "", "host:port of a minerbench chain to register on (default: none)")
	overrides := Settings{}
	fs.Func("set", "override a setting, key=value (repeatable), e.g. -set nucleus.nhid=600", func(s string) error {
		k, v, err := ParseAssignment(s)
		if err == nil {
			overrides[k] = v
		}
		return err
	})
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\nServes the %s miner as a standalone axon.\n\nFlags:\n", m.Name(), m.Name())
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nSettings and their defaults:\n")
		rt := newRuntime(m, hclog.NewNullLogger())
		for _, k := range rt.defaults().Keys() {
			fmt.Fprintf(stderr, "  %s=%s\n", k, rt.defaults()[k])
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
	overrides[KeyWalletName] = *walletName
	overrides[KeyWalletSeed] = *seed
	overrides[KeyChainEndpoint] = *chainEndpoint

	// Catch the signals before the endpoint is printed: whoever reads it may
	// send one at once, and must get a clean stop rather than the default
	// death by signal.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	log := hclog.New(&hclog.LoggerOptions{Name: m.Name(), Output: stderr, Level: hclog.Info})
	rt := newRuntime(m, log)
	started, err := rt.Run(context.Background(), overrides)
	if err != nil {
		return err
	}
	defer rt.Stop(context.Background())
	fmt.Fprintf(stdout, "miner %s serving\nhotkey: %s\nendpoint: %s\n", m.Name(), started.Hotkey, started.Endpoint)

	select {
	case sig := <-signals:
		log.Info("stopping", "signal", sig.String())
	case <-stop:
	}
	return nil
}
