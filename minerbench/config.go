package minerbench

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/settings"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/miner"
)

// flagPrefix namespaces minerbench's flags so they cannot collide with go test's.
const flagPrefix = "mb."

// Limits on the settings, refused beyond them before any miner starts.
const (
	maxBatch = 4096
	maxBlock = 4096
	// maxTokens bounds batch × block, so that an answer fits the default
	// message limit of the axon and dendrite. An answer is
	// [batch, block, 1024] float32. The largest of Bittensor 2.0.4's
	// QueryBenchmark, [64, 256, 1024], is 64 MiB.
	maxTokens = 64 * 256
	maxConc   = 1024
	maxRate   = 100000 // queries per second of an open loop
)

// config is what the test binary's -mb.* flags set.
// check validates every field before any miner is started.
type config struct {
	// Miners selects miners by name. Empty means every miner the bench
	// file names but the optional ones.
	Miners []string
	// Batch and Block are the standard benchmark's token batch shape,
	// QueryBenchmark's batch_size and block_size.
	Batch, Block int
	// Conc is the number of concurrent workers, QueryBenchmark's
	// n_processes.
	Conc int
	// Delay is the pause each worker makes after each query.
	Delay time.Duration
	// Rate is the open loop's queries per second. Zero runs the closed
	// loop.
	Rate float64
	// Timeout bounds each query. A query cut by it is recorded as Timeout.
	Timeout time.Duration
	// Compression is the gRPC compression of the queries, "", "gzip" or
	// "deflate". It is Bittensor's dendrite.compression.
	Compression string
	// Restart starts fresh history files instead of appending to them.
	Restart bool
	// FailOnNoSuccess fails a benchmark in which no query succeeded.
	FailOnNoSuccess bool
	// Results is the directory the miners' histories and logs go under.
	Results string
	// Debug copies the miners' logs to stderr.
	Debug bool
	// Endpoint, when set, is a running miner: the host:port of a 2.0.x
	// axon, or the http://host:port of a synapse axon. It is queried, and
	// no plugin is launched.
	Endpoint string
	// AxonHotkey is the SS58 hotkey of the synapse axon at Endpoint, which
	// every request's signature covers.
	AxonHotkey string
	// HotkeyFile and HotkeySeed name the validator's hotkey the queries
	// are signed with: a bittensor wallet's hotkey file, or a secret seed
	// in hex. Neither set means the mock validator's.
	HotkeyFile, HotkeySeed string
	// Synapse is the synapse load of the standard synapse benchmark.
	Synapse Synapse
	// BlockTime is the embedded mock chain's block time.
	BlockTime time.Duration
	// LaunchTimeout bounds each miner's handshake and first Info call.
	// A miner that cannot even start then fails in seconds. StartTimeout
	// still gives a slow model its time.
	LaunchTimeout time.Duration
	// StartTimeout bounds the whole start of each launched miner.
	// That is its launch, Info and Start, where New and the registration
	// run, and the wait for its axon on the chain.
	StartTimeout time.Duration
	// LogLimit caps the bytes of each miner's log a run writes. Zero is no
	// cap.
	LogLimit int64
	// Overrides holds per-miner settings, miner name → key → value.
	// The name "" applies to every miner.
	Overrides map[string]miner.Settings
}

// defaultConfig returns the settings used when no flag is given.
func defaultConfig() config {
	return config{
		Batch:     10,
		Block:     10,
		Conc:      1,
		Timeout:   12 * time.Second,
		Results:   "results",
		BlockTime: chain.DefaultBlockTime,
		// A miner that is a plugin completes the handshake at once.
		LaunchTimeout: time.Minute,
		// QueryBenchmark gave a miner 100 blocks of the real chain to
		// appear, loading its model included. That is 1,200 s.
		StartTimeout: chain.DefaultMaxBlocks * chain.RealBlockTime,
		LogLimit:     defaultLogLimit,
		Overrides:    map[string]miner.Settings{},
		Synapse:      defaultSynapse,
	}
}

// registerFlags binds c's fields to -mb.* flags of fs.
// c's values are the defaults.
func (c *config) registerFlags(fs *flag.FlagSet) {
	name := func(s string) string { return flagPrefix + s }
	fs.Func(name("miners"), "comma-separated `names` of the miners to benchmark (default: every miner the bench file names but those it marks optional)", func(s string) error {
		c.Miners = splitList(s)
		return nil
	})
	fs.IntVar(&c.Batch, name("batch"), c.Batch, fmt.Sprintf("batch size of the standard benchmark's queries (1 to %d)", maxBatch))
	fs.IntVar(&c.Block, name("block"), c.Block, fmt.Sprintf("block size (tokens per sequence) of the standard benchmark's queries (1 to %d)", maxBlock))
	fs.IntVar(&c.Conc, name("conc"), c.Conc, fmt.Sprintf("concurrent workers of the standard benchmark, as Bittensor 2.0.4's n_processes (1 to %d)", maxConc))
	fs.DurationVar(&c.Delay, name("delay"), c.Delay, "pause each worker makes after each query")
	fs.Float64Var(&c.Rate, name("rate"), c.Rate, fmt.Sprintf("open loop: queries per second the standard benchmark sends on a fixed schedule, latency measured from each query's intended send time; 0 runs the closed loop (0 to %d)", maxRate))
	fs.DurationVar(&c.Timeout, name("timeout"), c.Timeout, "per-query timeout; a query cut by it is recorded as Timeout")
	fs.StringVar(&c.Compression, name("compression"), c.Compression, "gRPC `compression` of the queries, as Bittensor's dendrite.compression: gzip, deflate, or empty for none (a miner compresses its answers as its axon.compression setting says)")
	fs.BoolVar(&c.Restart, name("restart"), c.Restart, "start fresh query histories instead of appending to them")
	fs.BoolVar(&c.FailOnNoSuccess, name("fail-on-no-success"), c.FailOnNoSuccess, "fail a benchmark in which no query succeeded (for CI); without it such a benchmark only warns, in its log and on the terminal")
	fs.StringVar(&c.Results, name("results"), c.Results, "`directory` of the results: each miner's query histories and log, under <network>/<wallet>/<miner>/")
	fs.BoolVar(&c.Debug, name("debug"), c.Debug, "also show the miners' logs live on stderr (they are always kept in logs.log, up to -mb.log-limit)")
	fs.StringVar(&c.Endpoint, name("endpoint"), c.Endpoint, "`address` of a running miner to benchmark instead of launching plugins: host:port of a 2.0.x axon, or http://host:port of a synapse axon (bittensor 6 and later)")
	fs.StringVar(&c.AxonHotkey, name("axon-hotkey"), c.AxonHotkey, "`SS58` hotkey of the synapse axon at -mb.endpoint, which every request's signature covers")
	fs.StringVar(&c.HotkeyFile, name("hotkey-file"), c.HotkeyFile, "`path` of the validator's hotkey file in a bittensor wallet (~/.bittensor/wallets/NAME/hotkeys/HOTKEY, unencrypted), to sign the queries as a registered validator (default: a mock validator's hotkey)")
	fs.StringVar(&c.HotkeySeed, name("hotkey-seed"), c.HotkeySeed, "the validator hotkey's secret `seed` in hex, instead of -mb.hotkey-file")
	fs.StringVar(&c.Synapse.Name, name("synapse"), c.Synapse.Name, "`name` of the synapse the synapse benchmark queries (its class name, the route)")
	fs.StringVar(&c.Synapse.Body, name("body"), c.Synapse.Body, "the synapse's fields as a JSON `object`, the body of every query")
	fs.Func(name("hash-fields"), "comma-separated `fields` of the synapse's required_hash_fields, in order (default: none)", func(s string) error {
		c.Synapse.HashFields = splitList(s)
		return nil
	})
	fs.BoolVar(&c.Synapse.Streaming, name("stream"), c.Synapse.Streaming, "read each answer as a stream (a StreamingSynapse), reporting time to first byte, chunks and bytes")
	fs.DurationVar(&c.BlockTime, name("blocktime"), c.BlockTime, fmt.Sprintf("block time of the embedded mock chain (the real chain's is %v)", chain.RealBlockTime))
	fs.DurationVar(&c.LaunchTimeout, name("launch-timeout"), c.LaunchTimeout, "bound of each miner's launch: go-plugin's handshake and its first Info call, so that a miner that cannot start fails fast (-mb.start-timeout bounds the whole start)")
	fs.DurationVar(&c.StartTimeout, name("start-timeout"), c.StartTimeout, "bound of each miner's whole start: launch, New, registration and the wait for its axon on the chain")
	fs.Var((*byteSize)(&c.LogLimit), name("log-limit"), "`size` of each miner's log a run may write, such as 512KiB or 8MiB, 0 for no limit; the lines past it are dropped, and a marker line says how many")
	fs.Func(name("set"), "override a miner setting, `[miner:]key=value` (repeatable), e.g. template:nucleus.nhid=600", func(s string) error {
		name, assignment := "", s
		if i := strings.Index(s, ":"); i >= 0 && i < strings.Index(s, "=") {
			name, assignment = s[:i], s[i+1:]
		}
		k, v, err := settings.ParseAssignment(assignment)
		if err != nil {
			return err
		}
		if c.Overrides[name] == nil {
			c.Overrides[name] = miner.Settings{}
		}
		c.Overrides[name][k] = v
		return nil
	})
}

// splitList returns the non-empty, trimmed items of a comma-separated list.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// defaultLogLimit caps each miner's log at 8 MiB a run.
// That is far more than a working miner writes, and too little to fill a
// disk.
const defaultLogLimit = 8 << 20

// byteSize is a flag.Value of a count of bytes.
// It is a whole number with an optional unit, B, KiB, MiB or GiB.
type byteSize int64

// sizeUnits are byteSize's units, largest first.
var sizeUnits = []struct {
	name string
	size int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// String writes the size in its largest whole unit.
func (b *byteSize) String() string {
	if *b == 0 {
		return "0"
	}
	for _, u := range sizeUnits {
		if int64(*b)%u.size == 0 {
			return strconv.FormatInt(int64(*b)/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(*b), 10) + "B"
}

// Set reads a size such as 8MiB.
func (b *byteSize) Set(s string) error {
	num, size := s, int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.name); ok {
			num, size = n, u.size
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/size {
		return errors.New("want a whole number of bytes with an optional unit B, KiB, MiB or GiB, such as 8MiB, or 0 for no limit")
	}
	*b = byteSize(n * size)
	return nil
}

// loadProblem is a refused value of a load.
// field is the flag's name without the prefix.
type loadProblem struct {
	field string
	value any
	want  string
}

// checkLoad returns what is wrong with the values of a load.
// They come from flags or a bench file's Load. rateName names the rate
// setting.
func checkLoad(batch, block, conc int, delay time.Duration, rate float64, rateName string) []loadProblem {
	var ps []loadProblem
	intIn := func(field string, v, lo, hi int) {
		if v < lo || v > hi {
			ps = append(ps, loadProblem{field, v, fmt.Sprintf("an integer from %d to %d", lo, hi)})
		}
	}
	intIn("batch", batch, 1, maxBatch)
	intIn("block", block, 1, maxBlock)
	intIn("conc", conc, 1, maxConc)
	if batch >= 1 && block >= 1 && batch*block > maxTokens {
		ps = append(ps, loadProblem{"batch", batch, fmt.Sprintf("batch × block (here × %d) at most %d tokens, so that an answer fits the message size limit", block, maxTokens)})
	}
	if delay < 0 {
		ps = append(ps, loadProblem{"delay", delay, "a duration of 0 or more, such as 100ms"})
	}
	if !(rate >= 0 && rate <= maxRate) {
		ps = append(ps, loadProblem{"rate", rate, fmt.Sprintf("0 (closed loop) or queries per second up to %d", maxRate)})
	} else if rate > 0 && delay > 0 {
		ps = append(ps, loadProblem{"delay", delay, "0 with " + rateName + " (an open loop paces queries by its schedule)"})
	}
	return ps
}

// badFlag describes a refused value of the flag flagName.
func badFlag(flagName string, value any, want string) error {
	return fmt.Errorf("-%s%s=%v: want %s", flagPrefix, flagName, value, want)
}

// check checks every setting and returns all problems at once.
//
// known are the names of the miners the bench file offers. Each problem
// names the flag, the value and what is accepted. check has no side
// effects. checkEnvironment checks what a run will use.
func (c *config) check(known []string) error {
	var errs []error
	bad := func(flagName string, value any, want string) {
		errs = append(errs, badFlag(flagName, value, want))
	}
	for _, p := range checkLoad(c.Batch, c.Block, c.Conc, c.Delay, c.Rate, "-"+flagPrefix+"rate") {
		bad(p.field, p.value, p.want)
	}
	if c.Timeout <= 0 {
		bad("timeout", c.Timeout, "a positive duration, such as 12s")
	}
	if wire.CheckCompression("", c.Compression) != nil {
		bad("compression", c.Compression, `"gzip", "deflate" or "" (none)`)
	}
	if c.BlockTime <= 0 {
		bad("blocktime", c.BlockTime, "a positive duration, such as 50ms or 12s")
	}
	if c.LaunchTimeout <= 0 {
		bad("launch-timeout", c.LaunchTimeout, "a positive duration, such as 1m")
	}
	if c.StartTimeout <= 0 {
		bad("start-timeout", c.StartTimeout, "a positive duration, such as 20m")
	}
	var unknown []string
	for _, m := range c.Miners {
		if !slices.Contains(known, m) {
			unknown = append(unknown, m)
		}
	}
	if len(unknown) > 0 {
		bad("miners", strings.Join(c.Miners, ","), "names from: "+strings.Join(known, ", ")+" (unknown: "+strings.Join(unknown, ", ")+")")
	}
	for _, m := range slices.Sorted(maps.Keys(c.Overrides)) {
		prefix := ""
		if m != "" {
			prefix = m + ":"
		}
		for _, k := range c.Overrides[m].Keys() {
			v := c.Overrides[m][k]
			if m != "" && !slices.Contains(known, m) {
				bad("set", prefix+k+"="+v, "[miner:]key=value with a miner name from: "+strings.Join(known, ", "))
			} else if want := badDirSetting(k, v); want != "" {
				bad("set", prefix+k+"="+v, want)
			}
		}
	}
	if c.Endpoint != "" {
		if err := checkEndpoint(c.Endpoint); err != nil {
			bad("endpoint", c.Endpoint, endpointWant+" ("+err.Error()+")")
		}
	}
	errs = append(errs, c.checkSynapse()...)
	if c.Results == "" {
		bad("results", c.Results, "a directory that can be created and written (empty path)")
	}
	return errors.Join(errs...)
}

// badDirSetting returns what is accepted when value cannot name a
// directory, and "" otherwise.
// Settings such as subtensor.network and wallet.name name a results
// directory.
func badDirSetting(key, value string) string {
	if key != miner.KeyNetwork && key != miner.KeyWalletName {
		return ""
	}
	if value == "" || value == "." || value == ".." || strings.ContainsAny(value, `/\`+"\x00") {
		return "a " + key + " that can name a directory of the results (not empty, . or .., no / or \\)"
	}
	return ""
}

// checkEnvironment checks what a benchmark run will use.
//
// It creates the results directory if needed and proves it writable. It
// dials the endpoint, if one is set, to prove it reachable. The config
// must be valid.
func (c *config) checkEnvironment() error {
	var errs []error
	if c.Endpoint != "" {
		if err := probe(c.Endpoint); err != nil {
			errs = append(errs, badFlag("endpoint", c.Endpoint, endpointWant+" ("+err.Error()+")"))
		}
	}
	if _, err := c.validatorKey(); err != nil {
		errs = append(errs, err)
	}
	if err := checkWritableDir(c.Results); err != nil {
		errs = append(errs, badFlag("results", c.Results, "a directory that can be created and written ("+err.Error()+")"))
	}
	return errors.Join(errs...)
}

// endpointWant says what -mb.endpoint accepts.
const endpointWant = "host:port of a running 2.0.x axon, or http://host:port of a synapse axon"

// synapseScheme starts an -mb.endpoint that is a synapse axon's URL.
const synapseScheme = "http://"

// isSynapseURL reports whether endpoint is a synapse axon's URL rather than
// a 2.0.x axon's host:port.
func isSynapseURL(endpoint string) bool { return strings.HasPrefix(endpoint, synapseScheme) }

// hostPort returns the host:port of endpoint, either form.
func hostPort(endpoint string) string { return strings.TrimPrefix(endpoint, synapseScheme) }

// checkEndpoint checks the form of a host:port, or of http://host:port.
func checkEndpoint(endpoint string) error {
	if strings.Contains(endpoint, "://") && !isSynapseURL(endpoint) {
		return errors.New("the only URL scheme is http")
	}
	host, port, err := net.SplitHostPort(hostPort(endpoint))
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("empty host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q is not 1 to 65535", port)
	}
	return nil
}

// checkWritableDir makes dir if needed and proves a file can be written in it.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(filepath.Clean(f.Name()))
}
