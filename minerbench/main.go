// Package minerbench benchmarks Bittensor-style miners from go test.
//
// It is the API of bench files. A bench file's TestMain calls Main (or
// Run), which builds the miners' plugin binaries and launches them. It
// waits for their axons on an embedded mock chain, and stops the miners
// at the end. BenchmarkXxx functions query the miners with Bench and
// BenchMiner. They report metrics that benchstat reads, and keep the CSV
// query history of Bittensor 2.0.4's QueryBenchmark.
//
// A miner itself is written with package miner.
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
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// MinerSpec describes a miner a bench file offers.
// Exactly one of Package and Binary is set.
type MinerSpec struct {
	// Name is the miner's name in benchmark names (miner=Name), in flags
	// and in the history path.
	Name string
	// Package is the Go package of the miner's main, such as
	// "./miners/template". It is built when benchmarks run.
	Package string
	// Binary is the path of a prebuilt plugin binary.
	Binary string
	// Settings are the bench file's overrides of the miner's settings.
	Settings map[string]string
	// Optional marks a miner benchmarked only when -mb.miners names it.
	// A miner meant for testing the harness is optional.
	Optional bool
}

// Exit codes of Main besides the tests' own.
//
// A refused setting exits with exitUsage, as the flag package does for a
// bad flag. That holds before the miners start and after they have told
// their settings.
const (
	exitUsage       = 2
	exitInterrupted = 130
)

// shutdownGrace is how long Run waits after SIGINT or SIGTERM before it
// forces an exit. The running benchmark has that long to stop and write
// its history.
const shutdownGrace = 10 * time.Second

// The mock wallet the host's dendrites sign with.
//
// validatorWallet is the wallet name, a miner's default too (see
// miner.RuntimeDefaults). validatorName is what the key derives from,
// wallet/hotkey as for a miner.
const (
	validatorWallet = launch.MockWallet
	validatorName   = validatorWallet + "/validator"
)

// mockNetwork is the network of the embedded chain.
const mockNetwork = launch.MockNetwork

// unitLines tell benchstat and the gate command which way each custom
// unit is better.
const unitLines = "Unit queries/s better=higher\nUnit success-% better=higher\n" +
	"Unit p50-ns better=lower\nUnit p90-ns better=lower\nUnit p99-ns better=lower\n" +
	"Unit p99-uncorrected-ns better=lower\nUnit late-% better=lower\nUnit dropped-% better=lower\n" +
	"Unit server-p50-ns better=lower\nUnit ttfb-p50-ns better=lower\nUnit chunks/s better=higher\n"

// current is the harness of the running Run. Bench reads it.
var current *harness

// Main runs Run and exits with its status.
// It is all a bench file's TestMain needs.
func Main(m *testing.M, miners ...MinerSpec) {
	os.Exit(Run(m, miners...))
}

// Run runs a bench file's tests and benchmarks and returns the exit status.
//
// Use it instead of Main when TestMain has work to do afterwards. Run
// parses the -mb.* flags and refuses bad values before anything starts.
// When benchmarks were asked for, it starts the mock chain and the
// selected miners, calls m.Run, and stops everything. When the output goes
// to a file, a refusal and a failed run also go to the terminal.
//
// No miner outlives Run. The miners stop when Run returns, and on SIGINT
// or SIGTERM. After such a signal, Run exits the process if the benchmarks
// do not end within a grace period. A miner also exits by itself when the
// test binary dies.
func Run(m *testing.M, miners ...MinerSpec) int {
	cfg := defaultConfig()
	cfg.registerFlags(flag.CommandLine)
	flag.Parse()
	var tty io.WriteCloser
	if benchmarksRequested() {
		tty = openTerminal(os.Stderr, ttyPath)
	}
	code := execute(m, cfg, miners, os.Stdout, alerter{stderr: os.Stderr, tty: tty})
	if tty != nil {
		tty.Close()
	}
	return code
}

// execute is Run after flag parsing.
//
// Its messages go to alert's stderr. An error that stops the run, and a
// failed run, also go to alert's terminal.
func execute(m *testing.M, cfg config, specs []MinerSpec, stdout io.Writer, alert alerter) int {
	if err := validate(cfg, specs, benchmarksRequested()); err != nil {
		alert.fatal(err)
		return exitUsage
	}
	if !benchmarksRequested() {
		return m.Run()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(ctx, cfg)
	h.alert = alert
	defer h.stop()
	// Signals are caught from the start. An interrupt during a build or
	// a slow miner's start then stops what has started so far.
	defer h.stopOnSignal(cancel, alert.stderr)()

	h.specNames = specNames(specs)
	err := h.start(selected(specs, cfg.Miners), alert.stderr)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	if err != nil {
		alert.fatal(err)
		if errors.As(err, new(usageError)) {
			return exitUsage
		}
		return 1
	}
	current = h
	defer func() { current = nil }()

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

// stopOnSignal makes SIGINT and SIGTERM stop the run.
// It returns the function that stops watching for them.
//
// The first signal cancels the run and says so on stderr. A second
// signal, or the end of shutdownGrace, stops h and exits the process.
func (h *harness) stopOnSignal(cancel context.CancelFunc, stderr io.Writer) (unwatch func()) {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	returned := make(chan struct{})
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
	return func() {
		signal.Stop(signals)
		close(returned)
	}
}

// benchmarksRequested reports whether go test was asked to run benchmarks.
func benchmarksRequested() bool {
	f := flag.Lookup("test.bench")
	return f != nil && f.Value.String() != ""
}

// validate checks the bench file's miners and the settings.
// When benchmarking, it also checks what the benchmarks will use.
func validate(cfg config, specs []MinerSpec, benchmarking bool) error {
	if err := checkSpecs(specs); err != nil {
		return err
	}
	if err := cfg.check(specNames(specs)); err != nil {
		return err
	}
	if benchmarking {
		return cfg.checkEnvironment()
	}
	return nil
}

// checkSpecs checks the miners a bench file names.
//
// Names must be valid and distinct. Each miner has one of Package and
// Binary, and a Binary must be an executable file.
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
		for _, k := range miner.Settings(s.Settings).Keys() {
			if want := badDirSetting(k, s.Settings[k]); want != "" {
				return fmt.Errorf("miner %q: MinerSpec.Settings %s=%q: want %s", s.Name, k, s.Settings[k], want)
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

// selected returns the specs whose names are in names (-mb.miners).
// Without names, it returns those that are not Optional.
func selected(specs []MinerSpec, names []string) []MinerSpec {
	var out []MinerSpec
	for _, s := range specs {
		if slices.Contains(names, s.Name) || len(names) == 0 && !s.Optional {
			out = append(out, s)
		}
	}
	return out
}

// harness holds what Run started for the benchmarks.
type harness struct {
	cfg       config
	specNames []string // of every miner the bench file names
	ctx       context.Context
	validator *wallet.Keypair // the host's dendrites sign with it; set by start
	miners    []*Target       // set once start returns

	stopOnce   sync.Once
	mu         sync.Mutex
	stopping   bool
	minerStops []func() // of the miners launched so far
	stops      []func() // of what start started before the miners

	historyMu sync.Mutex
	restarted map[string]bool // histories this run has opened
	analyzed  map[string]bool // analysis files this run has written

	failedMu sync.Mutex
	failed   []string // names of the benchmarks Bench ran that failed

	alert alerter // of warnings while the benchmarks run
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

// newHarness returns a harness of cfg. Its run ends with ctx.
func newHarness(ctx context.Context, cfg config) *harness {
	return &harness{cfg: cfg, ctx: ctx, restarted: map[string]bool{}, analyzed: map[string]bool{}}
}

// start brings up the chain and the miners, or connects to -mb.endpoint.
//
// A miner that fails to start is kept with its error. Its benchmarks then
// fail and the others still run. start returns an error only for a
// harness fault. It prints each miner's results directory to stderr, as
// QueryBenchmark did. h.stop stops whatever start started, also while
// start runs.
func (h *harness) start(specs []MinerSpec, stderr io.Writer) error {
	validator, err := h.cfg.validatorKey()
	if err != nil {
		return usageError{err}
	}
	h.validator = validator
	if h.cfg.Endpoint != "" {
		return h.connectRemote(stderr)
	}
	dirs, err := h.makeResultsDirs(specs, stderr)
	if err != nil {
		return err
	}
	ch, chainEndpoint, err := h.startChain()
	if err != nil {
		return err
	}
	binaries, err := h.buildMiners(specs)
	if err != nil {
		return err
	}
	starter := launch.Starter{Chain: ch, ChainEndpoint: chainEndpoint, LaunchTimeout: h.cfg.LaunchTimeout,
		StartTimeout: h.cfg.StartTimeout, LogLimit: h.cfg.LogLimit, Own: h.atStopMiner}
	if h.cfg.Debug {
		starter.Echo = stderr
	}
	h.miners = h.launchMiners(starter, specs, binaries, dirs, stderr)
	return checkOverrides(h.cfg.Overrides, h.miners)
}

// connectRemote connects to the miner of -mb.endpoint.
//
// checkEnvironment has probed the endpoint already. A miner gone since
// fails its benchmarks with the reason.
func (h *harness) connectRemote(stderr io.Writer) error {
	m := &Target{Name: "remote", dir: resultsDir(h.cfg.Results, "remote", validatorWallet, "remote")}
	if isSynapseURL(h.cfg.Endpoint) {
		m.SynapseURL, m.Hotkey = h.cfg.Endpoint, h.cfg.AxonHotkey
	} else {
		m.Endpoint = h.cfg.Endpoint
	}
	if err := logTo(stderr, m.dir); err != nil {
		return err
	}
	if !h.atStopMiner(m.stop) {
		return errInterrupted
	}
	m.connect(h.ctx, h.validator, h.cfg.Compression)
	h.miners = []*Target{m}
	return nil
}

// makeResultsDirs makes each miner's results directory and prints it.
// The path holds the network and wallet name the miner will be given.
func (h *harness) makeResultsDirs(specs []MinerSpec, stderr io.Writer) ([]string, error) {
	dirs := make([]string, len(specs))
	for i, spec := range specs {
		network, walletName := h.overrides(spec).Names(spec.Name)
		dirs[i] = resultsDir(h.cfg.Results, network, walletName, spec.Name)
		if err := logTo(stderr, dirs[i]); err != nil {
			return nil, err
		}
	}
	return dirs, nil
}

// startChain starts the embedded mock chain on a loopback port.
// It returns the chain and its host:port.
func (h *harness) startChain() (*chain.Chain, string, error) {
	ch, err := chain.New(chain.Config{BlockTime: h.cfg.BlockTime})
	if err != nil {
		return nil, "", err
	}
	if !h.atStop(ch.Start()) {
		return nil, "", errInterrupted
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("chain listener: %w", err)
	}
	stopServe, err := ch.Serve(lis)
	if err != nil {
		return nil, "", fmt.Errorf("chain service: %w", err)
	}
	if !h.atStop(func() { _ = stopServe() }) {
		return nil, "", errInterrupted
	}
	return ch, lis.Addr().String(), nil
}

// buildMiners returns each spec's plugin binary, keyed by miner name.
// It builds those that name a package, in a build directory of this run.
func (h *harness) buildMiners(specs []MinerSpec) (map[string]string, error) {
	dir, err := launch.NewBuildDir()
	if err != nil {
		return nil, fmt.Errorf("build directory: %w", err)
	}
	if !h.atStop(func() { _ = os.RemoveAll(dir) }) {
		return nil, errInterrupted
	}
	binaries := map[string]string{}
	for _, s := range specs {
		binaries[s.Name] = s.Binary
		if s.Package == "" {
			continue
		}
		if binaries[s.Name], err = launch.Build(h.ctx, dir, s.Name, s.Package); err != nil {
			return nil, err
		}
	}
	return binaries, nil
}

// launchMiners starts the miners of specs, all at once.
// A status line on stderr says what they wait for.
func (h *harness) launchMiners(starter launch.Starter, specs []MinerSpec, binaries map[string]string, dirs []string, stderr io.Writer) []*Target {
	status := newStatusLine(stderr)
	defer status.done()
	starter.Status = status.set
	miners := make([]*Target, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() { miners[i] = h.launchMiner(starter, spec, binaries[spec.Name], dirs[i]) })
	}
	wg.Wait()
	return miners
}

// overrides returns the settings of spec's miner that replace the host's.
// They are the bench file's and those of -mb.set.
func (h *harness) overrides(spec MinerSpec) launch.Overrides {
	return launch.NewOverrides(spec.Settings, h.cfg.Overrides[spec.Name], h.cfg.Overrides[""])
}

// atStop adds stop to what h.stop runs, after the miners' stops.
//
// h.stop runs these in reverse order. Once h.stop has begun, atStop runs
// stop at once and returns false, because the caller is being stopped.
func (h *harness) atStop(stop func()) bool { return h.register(&h.stops, stop) }

// atStopMiner adds a miner's stop to what h.stop runs first.
//
// h.stop runs the miners' stops all at once. As with atStop, once h.stop
// has begun, stop runs at once and atStopMiner returns false.
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

// logTo makes a miner's results directory and prints its path.
// The words are QueryBenchmark's.
func logTo(stderr io.Writer, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	fmt.Fprintf(stderr, "Logging to: %s\n", abs)
	return nil
}

// stop stops everything start started.
//
// The miners stop first, all at once, each gracefully. Then the rest goes
// in reverse order: the build directory, the chain's service, the chain.
// stop is idempotent. It is safe from a signal handler and while start
// runs.
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
	conn, err := net.DialTimeout("tcp", hostPort(endpoint), probeTimeout)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	return conn.Close()
}

// usageError is a setting refused after the miners have started.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// errInterrupted marks work stopped by SIGINT or SIGTERM.
var errInterrupted = launch.ErrInterrupted
