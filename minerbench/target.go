package minerbench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/httpdendrite"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/internal/load"
	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// dialTimeout bounds connecting to a miner's axon.
const dialTimeout = 10 * time.Second

// Target is a miner the benchmarks query.
//
// It is a launched plugin or a remote endpoint. A miner that could not be
// started carries the reason, and each of its benchmarks fails with it.
type Target struct {
	// Name is the miner's name in benchmark names and the history path.
	Name string
	// Hotkey is the SS58 address of the miner's hotkey, when known.
	Hotkey string
	// Endpoint is the host:port of the miner's 2.0.x axon, or "" when it
	// serves none.
	Endpoint string
	// SynapseURL is the http://host:port of the miner's HTTP synapse axon,
	// or "" when it serves none.
	SynapseURL string

	dir       string           // of its histories and its log
	defaults  miner.Settings   // as it told them, when it did
	plugin    *launch.Instance // nil for a remote endpoint or a miner that could not start
	validator *wallet.Keypair
	// compression is what the dendrites compress requests with
	// (-mb.compression).
	compression string
	err         error

	mu        sync.Mutex
	dendrites []*dendrite.Dendrite
	transport *http.Transport // of the synapse clients, made by the first
}

// Err returns why the miner is not available, or nil.
func (m *Target) Err() error {
	if m.err != nil {
		return m.err
	}
	if m.plugin != nil && m.plugin.Exited() {
		return m.plugin.Explain(fmt.Errorf("miner %s exited", m.Name))
	}
	return nil
}

// endIfDying ends the miner's process if it is ending, and reports
// whether it did.
//
// The query loop calls it after an Unavailable answer. It may block for
// some 12 s (see launch.Process.EndIfDying). A remote miner never ends.
func (m *Target) endIfDying() bool {
	return m.plugin != nil && m.plugin.EndIfDying()
}

// Pid returns the process id of the miner's plugin.
//
// It is 0 for a remote endpoint or a miner that could not be started. A
// bench file can watch the miner's memory or CPU time with it, as
// /proc/PID shows them, while Bench queries it.
func (m *Target) Pid() int {
	if m.plugin == nil || m.err != nil {
		return 0
	}
	return m.plugin.Pid()
}

// Targets returns the miners Run started, in the bench file's order.
//
// It returns nil when Run started none, because no benchmarks were asked
// for or TestMain does not call Run. The slice is a copy, but the targets
// are shared. A bench file reads them to measure what Bench does not, such
// as a miner's memory (see Pid).
func Targets() []*Target {
	if current == nil {
		return nil
	}
	return slices.Clone(current.miners)
}

// connect dials the miner's 2.0.x axon with the validator's hotkey.
// Requests will use compression, "" for none. A miner that serves only
// HTTP synapses has no 2.0.x axon to dial.
func (m *Target) connect(ctx context.Context, validator *wallet.Keypair, compression string) {
	m.validator, m.compression = validator, compression
	if m.Endpoint == "" {
		return
	}
	if _, err := m.clients(ctx, 1); err != nil {
		m.err = err
	}
}

// clients returns n dendrites, one per worker, dialing the missing ones.
//
// Each has its own connection and receptor uid, as each of Bittensor
// 2.0.4's QueryBenchmark's n_processes had. Workers sharing one would race
// each other's nonces past the axon's replay guard.
func (m *Target) clients(ctx context.Context, n int) ([]*dendrite.Dendrite, error) {
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

// synapseClients returns a client per worker of ld's synapse, signed with
// key, each query bounded by timeout. The clients share one transport,
// whose connections stop closes; each has its own dendrite uuid, as real
// axons refuse concurrent nonces under one.
func (m *Target) synapseClients(ld Load, key *wallet.Keypair, timeout time.Duration) ([]load.Client, error) {
	m.mu.Lock()
	if m.transport == nil {
		m.transport = httpdendrite.NewTransport()
	}
	transport := m.transport
	m.mu.Unlock()
	clients, err := synapseClients(ld.Conc, m.SynapseURL, m.Hotkey, ld.Synapse, key, timeout, transport)
	if err != nil {
		return nil, fmt.Errorf("miner %s: %w", m.Name, err)
	}
	return clients, nil
}

// stop closes the connections and stops the miner's process and log.
// It is idempotent.
func (m *Target) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.dendrites {
		_ = d.Close()
	}
	m.dendrites = nil
	if m.transport != nil {
		m.transport.CloseIdleConnections()
	}
	if m.plugin != nil {
		m.plugin.Close()
	}
}

// launchMiner starts the miner of spec and connects to its axon.
func (h *harness) launchMiner(starter launch.Starter, spec MinerSpec, binary, dir string) *Target {
	m := &Target{Name: spec.Name, dir: dir}
	plugin, err := starter.Start(h.ctx, spec.Name, binary, dir, h.overrides(spec))
	m.defaults = plugin.Defaults
	if err != nil {
		m.err = err
		return m
	}
	m.plugin, m.Hotkey, m.Endpoint, m.SynapseURL = plugin, plugin.Hotkey, plugin.Endpoint, plugin.SynapseURL
	if !h.atStopMiner(m.stop) {
		m.err = fmt.Errorf("miner %s: %w", spec.Name, errInterrupted)
		return m
	}
	m.connect(h.ctx, h.validator, h.cfg.Compression)
	return m
}

// resultsDir returns a miner's directory under results.
// It is <network>/<wallet name>/<miner>, as in QueryBenchmark.
func resultsDir(results, network, walletName, minerName string) string {
	return filepath.Join(results, network, walletName, minerName)
}

// checkOverrides refuses a -mb.set whose key no miner has.
//
// NAME:key=value is refused when miner NAME has no setting key, and
// key=value when no started miner has it, so that a typo does not pass
// silently. A miner that failed before it told its settings is not
// checked, since its benchmarks fail anyway.
func checkOverrides(overrides map[string]miner.Settings, miners []*Target) error {
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
