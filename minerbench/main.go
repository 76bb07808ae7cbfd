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
	"sync/atomic"
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
	// Optional keeps the miner out of a run that does not name it: it is
	// benchmarked only when -mb.miners names it, as a miner meant for
	// testing the harness is.
	Optional bool
}

// Exit codes of Main besides the tests' own. A refused setting exits with
// exitUsage, as the flag package does for a bad flag, whether it is refused
// before the miners start or once they have told their settings.
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
const unitLines = "Unit queries/s better=higher\nUnit success-% better=higher\nUnit late-% better=lower\nUnit dropped-% better=lower\n"

// current is the harness Main set up; Bench reads it.
var current *harness

// Main is the whole of a bench file's TestMain: it parses the -mb.* flags
// (refusing bad values before anything starts) and, when benchmarks were
// asked for, starts the mock chain and the selected miners, runs the tests
// and benchmarks, stops everything and exits. No miner outlives the test
// binary: they are stopped on return, on SIGINT and SIGTERM, and they exit by
// themselves when the test binary dies. When the output goes to a file, a
// refusal and a failed run are also written to the terminal.
func Main(m *testing.M, miners ...MinerSpec) {
	cfg := DefaultConfig()
	cfg.registerFlags(flag.CommandLine)
	flag.Parse()
	var tty io.WriteCloser
	if benchmarksRequested() {
		tty = openTerminal(os.Stderr, ttyPath)
	}
	code := run(m, cfg, miners, os.Stdout, alerter{stderr: os.Stderr, tty: tty})
	if tty != nil {
		tty.Close()
	}
	os.Exit(code)
}

// run is Main after flag parsing. Its messages go to alert's stderr; an
// error that stops the run, and a failed run, also to alert's terminal.
func run(m *testing.M, cfg Config, specs []MinerSpec, stdout io.Writer, alert alerter) int {
	stderr := alert.stderr
	if err := validate(cfg, specs, benchmarksRequested()); err != nil {
		alert.report(err)
		return exitUsage
	}
	if !benchmarksRequested() {
		return m.Run()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Signals are caught from the start, so that an interrupt while the
	// miners start (a build, a slow miner) stops them too.
	var started atomic.Pointer[harness]
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
		if h := started.Load(); h != nil {
			h.stop()
		}
		os.Exit(exitInterrupted)
	}()

	h, err := start(ctx, cfg, selected(specs, cfg.Miners), stderr)
	if ctx.Err() != nil {
		if h != nil {
			h.stop()
		}
		return exitInterrupted
	}
	if err != nil {
		alert.report(err)
		if errors.As(err, new(usageError)) {
			return exitUsage
		}
		return 1
	}
	current = h
	started.Store(h)
	defer h.stop()

	fmt.Fprint(stdout, unitLines)
	code := m.Run()
	if ctx.Err() != nil && code == 0 {
		code = exitInterrupted
	}
	if code != 0 && ctx.Err() == nil {
		alert.failed(code, h.failedBenchmarks())
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

// selected returns the specs -mb.miners names, or without it those that are
// not Optional.
func selected(specs []MinerSpec, names []string) []MinerSpec {
	var out []MinerSpec
	for _, s := range specs {
		if slices.Contains(names, s.Name) || len(names) == 0 && !s.Optional {
			out = append(out, s)
		}
	}
	return out
}

// harness holds what Main started for the benchmarks.
type harness struct {
	cfg      Config
	ctx      context.Context
	miners   []*Miner
	stopOnce sync.Once
	stops    []func() // of what start started before the miners

	historyMu sync.Mutex
	restarted map[string]bool

	failedMu sync.Mutex
	failed   []string // names of the benchmarks Bench ran that failed
}

// noteFailed records that the benchmark name failed.
func (h *harness) noteFailed(name string) {
	h.failedMu.Lock()
	defer h.failedMu.Unlock()
	if !slices.Contains(h.failed, name) {
		h.failed = append(h.failed, name)
	}
}

// failedBenchmarks returns the names noteFailed recorded.
func (h *harness) failedBenchmarks() []string {
	h.failedMu.Lock()
	defer h.failedMu.Unlock()
	return slices.Clone(h.failed)
}

// start brings up the chain and the miners (or the remote endpoint). A miner
// that fails to start is kept with its error, so that its benchmarks fail
// and the others still run; an error is returned only for a harness fault.
func start(ctx context.Context, cfg Config, specs []MinerSpec, stderr io.Writer) (*harness, error) {
	h := &harness{cfg: cfg, ctx: ctx, restarted: map[string]bool{}}
	validator := wallet.Mock(validatorName)
	if cfg.Endpoint != "" {
		// Validate has probed the endpoint; a miner gone since fails its
		// benchmarks with the reason.
		m := &Miner{Name: "remote", Endpoint: cfg.Endpoint, network: "remote"}
		m.connect(ctx, validator)
		h.miners = []*Miner{m}
		return h, nil
	}
	ch, err := chain.New(chain.Config{BlockTime: cfg.BlockTime})
	if err != nil {
		return nil, err
	}
	h.stops = append(h.stops, ch.Start())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.stop()
		return nil, fmt.Errorf("chain listener: %w", err)
	}
	stopServe, err := ch.Serve(lis)
	if err != nil {
		h.stop()
		return nil, fmt.Errorf("chain service: %w", err)
	}
	h.stops = append(h.stops, func() { _ = stopServe() })

	binaries, cleanup, err := buildMiners(ctx, specs)
	if err != nil {
		h.stop()
		return nil, err
	}
	h.stops = append(h.stops, cleanup)

	var log io.Writer
	if cfg.Debug {
		log = stderr
	}
	status := newStatusLine(stderr)
	defer status.done()
	l := launcher{chain: ch, chainEndpoint: lis.Addr().String(), validator: validator, log: log, status: status}
	h.miners = make([]*Miner, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() {
			h.miners[i] = l.start(ctx, spec, binaries[spec.Name], ownOverrides(cfg, spec), cfg.Overrides[""])
		})
	}
	wg.Wait()
	if err := checkOverrides(cfg.Overrides, h.miners); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// stop stops the miners (at once, each gracefully), then what start started
// before them, in reverse order: the built binaries, the chain's service, the
// chain. It is idempotent and safe to call from a signal handler.
func (h *harness) stop() {
	h.stopOnce.Do(func() {
		var wg sync.WaitGroup
		for _, m := range h.miners {
			if m != nil {
				wg.Go(m.stop)
			}
		}
		wg.Wait()
		goplugin.CleanupClients()
		for i := len(h.stops) - 1; i >= 0; i-- {
			h.stops[i]()
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

// usageError is a refused setting, found once the miners have started.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// errInterrupted marks work stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted by a signal")
