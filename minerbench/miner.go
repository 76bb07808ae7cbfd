package minerbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/chain"
	"github.com/minerbench/minerbench/minerbench/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// exitPollInterval is how often a miner's process is checked while the host
// waits for its axon.
const exitPollInterval = 20 * time.Millisecond

// dialTimeout bounds connecting to a miner's axon.
const dialTimeout = 10 * time.Second

// Bounds of telling whether a miner that answered Unavailable is gone: the
// probe of its control channel, and the wait for its exit status.
const (
	controlProbeTimeout = 2 * time.Second
	exitWait            = 10 * time.Second
)

// Miner is a miner the benchmarks query: a launched plugin, or a remote
// endpoint. A miner that could not be started carries the reason, and every
// benchmark of it fails with that reason.
type Miner struct {
	// Name is the miner's name in benchmark names and the history path.
	Name string
	// Hotkey is the SS58 address of the miner's hotkey, when known.
	Hotkey string
	// Endpoint is the host:port of the miner's axon.
	Endpoint string

	dir       string   // of its histories and its log
	log       *os.File // its log, while it runs
	defaults  miner.Settings
	proc      *launch.Process
	validator *wallet.Keypair
	// compression is what the dendrites compress requests with
	// (-mb.compression).
	compression string
	err         error

	mu        sync.Mutex
	dendrites []*dendrite.Dendrite
}

// Err returns why the miner is not available, or nil.
func (m *Miner) Err() error {
	if m.err != nil {
		return m.err
	}
	if m.proc != nil && m.proc.Exited() {
		return m.proc.Explain(fmt.Errorf("miner %s exited", m.Name))
	}
	return nil
}

// gone reports whether the miner's process has ended or is ending; the
// query loop asks it when a query was answered Unavailable. A dead process
// breaks its axon's connections a moment before the host reaps it, so an
// unreaped process is asked for its Info on its control channel: if that
// fails (other than by timing out: a busy miner is alive), the process is
// ending, and gone waits for its exit status, which Err then reports, killing
// it if it does not exit. A miner that is alive (and answered Unavailable
// itself) or remote is not gone.
func (m *Miner) gone() bool {
	if m.proc == nil {
		return false
	}
	if m.proc.Exited() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), controlProbeTimeout)
	_, err := m.proc.Info(ctx)
	cancel()
	if err == nil || status.Code(err) == codes.DeadlineExceeded {
		return false
	}
	deadline := time.Now().Add(exitWait)
	for !m.proc.Exited() && time.Now().Before(deadline) {
		time.Sleep(exitPollInterval)
	}
	if !m.proc.Exited() {
		m.proc.Kill()
	}
	return true
}

// Pid returns the process id of the miner's plugin, or 0 for a remote
// endpoint or a miner that could not be started.
func (m *Miner) Pid() int {
	if m.proc == nil || m.err != nil {
		return 0
	}
	return m.proc.Pid()
}

// Miners returns the miners Main started, in the bench file's order, or nil
// when it started none (no benchmarks were asked for, or TestMain does not
// call Main). The slice is a copy; the miners are shared.
func Miners() []*Miner {
	if current == nil {
		return nil
	}
	return slices.Clone(current.miners)
}

// connect dials the miner's axon with the validator's hotkey, to send
// requests in compression ("" for none).
func (m *Miner) connect(ctx context.Context, validator *wallet.Keypair, compression string) {
	m.validator, m.compression = validator, compression
	if _, err := m.clients(ctx, 1); err != nil {
		m.err = err
	}
}

// clients returns n dendrites, one per worker, dialing the missing ones. Each
// has its own connection and receptor uid, as the original's n_processes had:
// workers sharing one would race each other's nonces past the axon's replay
// guard.
func (m *Miner) clients(ctx context.Context, n int) ([]*dendrite.Dendrite, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.dendrites) < n {
		dialCtx, cancel := context.WithTimeout(ctx, dialTimeout)
		d, err := dendrite.Dial(dialCtx, m.Endpoint, m.validator, dendrite.WithCompression(m.compression))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("miner %s: dial %s: %w", m.Name, m.Endpoint, err)
		}
		m.dendrites = append(m.dendrites, d)
	}
	return m.dendrites[:n], nil
}

// stop closes the connections, stops the miner's process and closes its
// log. It is idempotent.
func (m *Miner) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.dendrites {
		_ = d.Close()
	}
	m.dendrites = nil
	if m.proc != nil {
		m.proc.Kill()
	}
	if m.log != nil {
		_ = m.log.Close()
		m.log = nil
	}
}

// launcher starts miner plugins against one chain.
type launcher struct {
	chain         *chain.Chain
	chainEndpoint string
	validator     *wallet.Keypair
	compression   string    // of the queries, -mb.compression
	echo          io.Writer // a copy of every miner's log, or nil
	status        *statusLine
	// startTimeout bounds each miner's start, from its launch to its axon
	// on the chain.
	startTimeout time.Duration
	// own hands the stop of a launched miner to the harness; it returns
	// false, having stopped it, once the harness is stopping.
	own func(stop func()) bool
}

// logFile is the name of a miner's log in its results directory, the
// original's record_log file.
const logFile = "logs.log"

// start launches one miner, hands it its settings, and waits for its axon on
// the chain, as the original's QueryBenchmark did, all within the start
// timeout. Everything the miner writes is appended to its log in dir, after
// a header line of this run.
//
// own are the settings for this miner alone (refused by the miner if it does
// not have them); global ones apply only where the miner has the key. Both
// override the host's (hostSettings).
func (l launcher) start(ctx context.Context, spec MinerSpec, binary, dir string, own, global miner.Settings) *Miner {
	m := &Miner{Name: spec.Name, dir: dir}
	logPath := filepath.Join(dir, logFile)
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, l.startTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	// timedOut is read by the clock: a call the deadline cut can return
	// before ctx says so.
	timedOut := func() bool { return !errors.Is(ctx.Err(), context.Canceled) && !time.Now().Before(deadline) }
	late := func(err error) error {
		return fmt.Errorf("did not start within -%sstart-timeout=%v: %w", flagPrefix, l.startTimeout, err)
	}
	fail := func(err error) *Miner {
		if timedOut() {
			err = late(err)
		}
		m.err = fmt.Errorf("miner %s: %w", spec.Name, err)
		if m.proc != nil {
			m.err = m.proc.Explain(m.err)
		}
		m.stop()
		m.proc = nil
		return m
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fail(fmt.Errorf("log: %w", err))
	}
	m.log = f
	fmt.Fprintf(f, "=== %s minerbench: launching miner %s (%s)\n", time.Now().Format(time.RFC3339), spec.Name, binary)
	var log io.Writer = f
	if l.echo != nil {
		log = io.MultiWriter(f, l.echo)
	}
	l.status.set(spec.Name, "Starting miner "+spec.Name+" …")
	defer l.status.set(spec.Name, "")
	proc, err := launch.Launch(ctx, launch.Config{Path: binary, Log: log})
	if err != nil {
		return fail(err)
	}
	m.proc = proc
	if !l.own(m.stop) {
		return fail(errInterrupted)
	}
	info, err := proc.Info(ctx)
	if err != nil {
		return fail(fmt.Errorf("info: %w", err))
	}
	m.defaults = miner.Settings(info.Defaults)
	settings := hostSettings(spec)
	settings[miner.KeyChainEndpoint] = l.chainEndpoint
	for k, v := range global {
		if _, known := m.defaults[k]; known {
			settings[k] = v
		}
	}
	maps.Copy(settings, own)
	started, err := proc.Run(ctx, settings)
	if err != nil {
		return fail(fmt.Errorf("run: %w", err))
	}
	m.Hotkey = started.Hotkey
	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	go func() {
		for waitCtx.Err() == nil && !proc.Exited() {
			time.Sleep(exitPollInterval)
		}
		cancelWait()
	}()
	l.status.set(spec.Name, "Starting miner "+spec.Name+": waiting for its axon on the chain …")
	neuron, err := chain.FindEndpoint(waitCtx, l.chain, started.Hotkey, l.blocksLeft(deadline))
	if err != nil {
		if proc.Exited() {
			return fail(errors.New("exited before its axon was registered"))
		}
		err = fmt.Errorf("%w; the miner's log is in %s", err, logPath)
		if ctx.Err() == nil && !timedOut() { // the blocks of the start timeout ran out
			err = late(err)
		}
		return fail(err)
	}
	m.Endpoint = chain.Endpoint(neuron)
	m.connect(parent, l.validator, l.compression)
	return m
}

// hostSettings returns what the host sets for spec's miner, as the
// original did, before the chain's endpoint: a mock wallet of the miner's
// default name with the miner's name as hotkey, on the mock network.
func hostSettings(spec MinerSpec) miner.Settings {
	return miner.Settings{
		miner.KeyWalletName:   validatorWallet,
		miner.KeyWalletHotkey: spec.Name,
		miner.KeyNetwork:      mockNetwork,
	}
}

// resultsDir is a miner's directory under results: <network>/<wallet
// name>/<miner>, as the original's results/mock/default/<miner>.
func resultsDir(results, network, walletName, minerName string) string {
	return filepath.Join(results, network, walletName, minerName)
}

// blocksLeft returns how many blocks of the chain fit before deadline, at
// least 1.
func (l launcher) blocksLeft(deadline time.Time) int {
	return max(1, int(math.Ceil(float64(time.Until(deadline))/float64(l.chain.BlockTime()))))
}

// ownOverrides merges the bench file's settings for spec and the -mb.set
// NAME:key=value overrides, which win.
func ownOverrides(cfg config, spec MinerSpec) miner.Settings {
	out := miner.Settings{}
	maps.Copy(out, spec.Settings)
	maps.Copy(out, cfg.Overrides[spec.Name])
	return out
}

// checkOverrides refuses, before any query, a -mb.set whose key is unknown:
// NAME:key=value when miner NAME has no setting key, key=value when no
// started miner has it. A typo must not pass silently. A miner that failed
// before it told its settings is not checked: its benchmarks fail anyway.
func checkOverrides(overrides map[string]miner.Settings, miners []*Miner) error {
	var errs []error
	for _, k := range overrides[""].Keys() {
		used := false
		for _, m := range miners {
			_, has := m.defaults[k]
			used = used || has
		}
		if !used {
			errs = append(errs, badFlag("set", k+"="+overrides[""][k], "a setting one of the started miners has"))
		}
	}
	for _, m := range miners {
		if m.defaults == nil {
			continue
		}
		for _, k := range overrides[m.Name].Keys() {
			if _, has := m.defaults[k]; !has {
				errs = append(errs, badFlag("set", m.Name+":"+k+"="+overrides[m.Name][k],
					"a setting miner "+m.Name+" has: "+strings.Join(m.defaults.Keys(), ", ")))
			}
		}
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// buildMiners builds the plugin binaries of the specs that name a package
// into dir, one go build each (the build cache makes repeats fast). It
// returns the binary of every spec. The go command is the one on PATH: go
// test puts its own toolchain's first.
func buildMiners(ctx context.Context, dir string, specs []MinerSpec) (map[string]string, error) {
	binaries := map[string]string{}
	for _, s := range specs {
		if s.Binary != "" {
			binaries[s.Name] = s.Binary
			continue
		}
		out := filepath.Join(dir, s.Name)
		binaries[s.Name] = out
		if msg, err := exec.CommandContext(ctx, "go", "build", "-o", out, s.Package).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build miner %s (%s): %w\n%s", s.Name, s.Package, err, msg)
		}
	}
	return binaries, nil
}
