// Package minerbench benchmarks Bittensor-style miners from go test: Main
// drives the miners' lifecycle from TestMain (build the plugin binaries,
// launch them, wait for their axons on the embedded mock chain, stop them),
// and Bench queries them from BenchmarkXxx functions, reporting metrics that
// benchstat reads and keeping the original's CSV query history.
package minerbench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/minerbench/minerbench/minerbench/chain"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// MinerSpec names a miner a bench file offers. Exactly one of Package and
// Binary is set.
type MinerSpec struct {
	// Name is the miner's name in benchmark names (miner=Name), flags and
	// the history path.
	Name string
	// Package is the Go package of the miner's main, built with go build
	// when benchmarks run, such as "./miners/template".
	Package string
	// Binary is the path of a prebuilt plugin binary.
	Binary string
	// Settings are overrides the bench file applies to this miner.
	Settings map[string]string
}

// Exit codes of Main besides the tests' own.
const (
	exitUsage       = 2
	exitInterrupted = 130
)

// shutdownGrace is how long Main waits, after SIGINT or SIGTERM, for the
// running benchmark to stop and write its history before forcing an exit.
const shutdownGrace = 10 * time.Second

// validatorName is the mock wallet the host's dendrite signs with.
const validatorName = "minerbench/validator"

// unitLines tell benchstat which direction is better for the custom units.
const unitLines = "Unit queries/s better=higher\nUnit success-% better=higher\n"

// current is the harness Main set up; Bench reads it.
var current *harness

// Main is the whole of a bench file's TestMain: it parses the -mb.* flags
// (refusing bad values before anything starts) and, when benchmarks were
// asked for, starts the mock chain and the selected miners, runs the tests
// and benchmarks, stops everything and exits. No miner outlives the test
// binary: they are stopped on return, on SIGINT and SIGTERM, and they exit by
// themselves when the test binary dies.
func Main(m *testing.M, miners ...MinerSpec) {
	cfg := DefaultConfig()
	cfg.registerFlags(flag.CommandLine)
	flag.Parse()
	os.Exit(run(m, cfg, miners, os.Stdout, os.Stderr))
}

// run is Main after flag parsing.
func run(m *testing.M, cfg Config, specs []MinerSpec, stdout, stderr io.Writer) int {
	if err := validate(cfg, specs, benchmarksRequested()); err != nil {
		fmt.Fprintf(stderr, "minerbench: %v\n", err)
		return exitUsage
	}
	if !benchmarksRequested() {
		return m.Run()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(ctx, cfg)
	defer h.stop()

	// Signals are caught from the start, so that an interrupt while the
	// miners start (a build, a slow miner) stops what has started: h
	// stops each thing start has started so far.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		var sig os.Signal
		select {
		case sig = <-signals:
		case <-returned:
			return
		}
		fmt.Fprintf(stderr, "minerbench: %v: stopping the queries and the miners\n", sig)
		cancel()
		select {
		case <-signals:
		case <-time.After(shutdownGrace):
		}
		h.stop()
		os.Exit(exitInterrupted)
	}()

	err := h.start(selected(specs, cfg.Miners), stderr)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintf(stderr, "minerbench: %v\n", err)
		return 1
	}
	current = h

	fmt.Fprint(stdout, unitLines)
	code := m.Run()
	if ctx.Err() != nil && code == 0 {
		code = exitInterrupted
	}
	return code
}

// benchmarksRequested reports whether go test was asked to run benchmarks.
func benchmarksRequested() bool {
	f := flag.Lookup("test.bench")
	return f != nil && f.Value.String() != ""
}

// validate checks the bench file's miners and the settings, before anything
// is started; for a run, also what the run will use (CheckEnvironment).
func validate(cfg Config, specs []MinerSpec, run bool) error {
	if err := checkSpecs(specs); err != nil {
		return err
	}
	if err := cfg.Validate(specNames(specs)); err != nil {
		return err
	}
	if run {
		return cfg.CheckEnvironment()
	}
	return nil
}

// checkSpecs checks the miners a bench file names: valid, distinct names,
// one of Package and Binary each, and every Binary an executable file.
func checkSpecs(specs []MinerSpec) error {
	seen := map[string]bool{}
	for _, s := range specs {
		switch {
		case s.Name == "" || !validName(s.Name):
			return fmt.Errorf("miner name %q: want letters, digits, '-' or '_'", s.Name)
		case seen[s.Name]:
			return fmt.Errorf("miner %q is named twice; want distinct names", s.Name)
		case (s.Package == "") == (s.Binary == ""):
			return fmt.Errorf("miner %q: Package %q, Binary %q: want exactly one of Package and Binary", s.Name, s.Package, s.Binary)
		case s.Binary != "":
			if err := launch.CheckExecutable(s.Binary); err != nil {
				return fmt.Errorf("miner %q: MinerSpec.Binary %q: want an executable file (%v)", s.Name, s.Binary, err)
			}
		}
		seen[s.Name] = true
	}
	return nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func specNames(specs []MinerSpec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

func selected(specs []MinerSpec, names []string) []MinerSpec {
	if len(names) == 0 {
		return specs
	}
	var out []MinerSpec
	for _, s := range specs {
		if slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// harness holds what Main started for the benchmarks.
type harness struct {
	cfg    Config
	ctx    context.Context
	miners []*Miner // set once start returns

	stopOnce   sync.Once
	mu         sync.Mutex
	stopping   bool
	minerStops []func() // of the miners launched so far
	stops      []func() // of what start started before the miners

	historyMu sync.Mutex
	restarted map[string]bool
}

// newHarness returns a harness of cfg whose run ends with ctx.
func newHarness(ctx context.Context, cfg Config) *harness {
	return &harness{cfg: cfg, ctx: ctx, restarted: map[string]bool{}}
}

// start brings up the chain and the miners (or the remote endpoint). A miner
// that fails to start is kept with its error, so that its benchmarks fail
// and the others still run; an error is returned only for a harness fault.
// Whatever it started, stop stops, also while start runs.
func (h *harness) start(specs []MinerSpec, stderr io.Writer) error {
	ctx, cfg := h.ctx, h.cfg
	validator := wallet.Mock(validatorName)
	if cfg.Endpoint != "" {
		// Validate has probed the endpoint; a miner gone since fails its
		// benchmarks with the reason.
		m := &Miner{Name: "remote", Endpoint: cfg.Endpoint, network: "remote"}
		if !h.atStopMiner(m.stop) {
			return errInterrupted
		}
		m.connect(ctx, validator)
		h.miners = []*Miner{m}
		return nil
	}
	ch, err := chain.New(chain.Config{BlockTime: cfg.BlockTime})
	if err != nil {
		return err
	}
	if !h.atStop(ch.Start()) {
		return errInterrupted
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("chain listener: %w", err)
	}
	stopServe, err := ch.Serve(lis)
	if err != nil {
		return fmt.Errorf("chain service: %w", err)
	}
	if !h.atStop(func() { _ = stopServe() }) {
		return errInterrupted
	}
	dir, err := newBuildDir()
	if err != nil {
		return fmt.Errorf("build directory: %w", err)
	}
	if !h.atStop(func() { _ = os.RemoveAll(dir) }) {
		return errInterrupted
	}
	binaries, err := buildMiners(ctx, dir, specs)
	if err != nil {
		return err
	}

	var log io.Writer
	if cfg.Debug {
		log = stderr
	}
	status := newStatusLine(stderr)
	defer status.done()
	l := launcher{chain: ch, chainEndpoint: lis.Addr().String(), validator: validator, log: log, status: status,
		startTimeout: cfg.StartTimeout, own: h.atStopMiner}
	miners := make([]*Miner, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() {
			miners[i] = l.start(ctx, spec, binaries[spec.Name], ownOverrides(cfg, spec), cfg.Overrides[""])
		})
	}
	wg.Wait()
	h.miners = miners
	return checkGlobalOverrides(cfg.Overrides[""], miners)
}

// atStop makes stop part of h.stop, which runs such stops last first, after
// the miners'. Once h.stop has begun, it runs stop at once instead and
// returns false: the caller is being stopped.
func (h *harness) atStop(stop func()) bool { return h.register(&h.stops, stop) }

// atStopMiner makes stop, a miner's, part of h.stop, which runs the miners'
// stops at once, first; as atStop, it runs stop at once and returns false
// once h.stop has begun.
func (h *harness) atStopMiner(stop func()) bool { return h.register(&h.minerStops, stop) }

func (h *harness) register(list *[]func(), stop func()) bool {
	h.mu.Lock()
	if !h.stopping {
		*list = append(*list, stop)
		h.mu.Unlock()
		return true
	}
	h.mu.Unlock()
	stop()
	return false
}

// stop stops the miners (at once, each gracefully), then what start started
// before them, in reverse order: the build directory, the chain's service,
// the chain. It is idempotent, safe to call from a signal handler and while
// start runs.
func (h *harness) stop() {
	h.stopOnce.Do(func() {
		h.mu.Lock()
		h.stopping = true
		minerStops, stops := h.minerStops, h.stops
		h.mu.Unlock()
		var wg sync.WaitGroup
		for _, stop := range minerStops {
			wg.Go(stop)
		}
		wg.Wait()
		goplugin.CleanupClients()
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	})
}

// probeTimeout bounds the probe of -mb.endpoint.
const probeTimeout = 3 * time.Second

// probe checks that something accepts TCP connections at endpoint.
func probe(endpoint string) error {
	conn, err := net.DialTimeout("tcp", endpoint, probeTimeout)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	return conn.Close()
}

// errInterrupted marks work stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted by a signal")
