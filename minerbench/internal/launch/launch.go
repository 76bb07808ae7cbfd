// Package launch builds, starts and stops miner plugins for the host.
//
// Build makes a plugin binary. Launch starts it, completes go-plugin's
// handshake and returns a Process, whose Controller talks to the miner.
// A Process keeps everything the miner writes, and Kill stops it.
//
// Starter does all of a miner's start for a run. It opens the miner's log,
// launches it, merges its settings (see Overrides) and waits for its axon
// on the chain.
package launch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	pluginrunner "github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/minerbench/minerbench/minerbench/internal/contract"
)

// logLines is how many of a miner's last log lines a Process keeps.
// Error messages quote them.
const logLines = 20

// Bounds of Process.Kill before it kills the process group.
//
// stopTimeout bounds the graceful stop. forceAfter bounds go-plugin's own
// kill, which asks the plugin to shut down without a bound and then waits
// 2 s for it to exit.
const (
	stopTimeout = 5 * time.Second
	forceAfter  = 5 * time.Second
)

// Bounds of EndIfDying.
//
// They bound the probe of the control channel and the wait for the exit
// status, and set how often the exit is checked.
const (
	controlProbeTimeout = 2 * time.Second
	exitWait            = 10 * time.Second
	exitPollInterval    = 20 * time.Millisecond
)

// defaultStartTimeout bounds the handshake when Launch's context has no
// deadline.
const defaultStartTimeout = time.Minute

// Config says how to start a miner plugin. Zero values mean defaults.
type Config struct {
	// Path is the plugin binary. Required.
	Path string
	// Checksum, when set, is the binary's SHA-256.
	// A binary that does not match is refused before it runs.
	Checksum []byte
	// Log, when non-nil, receives everything the miner writes.
	//
	// It comes line by line, as written. That is the miner's stderr, its
	// log, and what it writes to os.Stdout and os.Stderr once go-plugin's
	// Serve has redirected them. Nothing is written to Log once Kill
	// returns or Launch fails.
	Log io.Writer
	// LogLimit, when positive, caps the bytes of the lines written to Log.
	//
	// Past it, lines are dropped after a marker line. When the miner
	// stops, a last marker says how many were dropped, followed by the
	// last of them. So a miner that floods its log cannot fill a disk.
	LogLimit int64
}

// Process is a running miner plugin.
//
// Its Controller talks to the miner over go-plugin's gRPC channel. The
// rest is what is needed to stop it and to explain a failure.
type Process struct {
	contract.Controller
	client  *goplugin.Client
	runner  *runner
	out     *output
	streams [3]*stream // stderr, and the redirected stdout and stderr
	once    sync.Once
}

// Launch starts the plugin binary and returns the running process.
//
// It completes the handshake, with automatic mutual TLS, within ctx. When
// ctx has no deadline, a minute bounds it. When ctx ends first, the
// process is killed. The process is registered with go-plugin's
// CleanupClients. On error nothing is left running.
func Launch(ctx context.Context, cfg Config) (*Process, error) {
	if cfg.Path == "" {
		return nil, errors.New("launch miner: plugin path is empty")
	}
	if err := CheckExecutable(cfg.Path); err != nil {
		return nil, fmt.Errorf("launch miner: %s: %w", cfg.Path, err)
	}
	if cfg.Checksum != nil {
		if err := verifyChecksum(cfg.Path, cfg.Checksum); err != nil {
			return nil, fmt.Errorf("launch miner: %w", err)
		}
	}
	if err := guard.start(); err != nil {
		return nil, fmt.Errorf("launch miner: %w", err)
	}
	startTimeout := defaultStartTimeout
	if deadline, ok := ctx.Deadline(); ok {
		startTimeout = time.Until(deadline)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("launch miner %s: %w", cfg.Path, err)
	}
	r, err := newRunner()
	if err != nil {
		return nil, fmt.Errorf("launch miner %s: %w", cfg.Path, err)
	}
	p := &Process{runner: r, out: newOutput(logLines, cfg.Log, cfg.LogLimit)}
	for i := range p.streams {
		p.streams[i] = &stream{out: p.out}
	}
	cc := &goplugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.PluginSet(nil),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Managed:          true,
		AutoMTLS:         true,
		StartTimeout:     startTimeout,
		Stderr:           p.streams[0],
		SyncStdout:       p.streams[1],
		SyncStderr:       p.streams[2],
		Logger:           hclog.NewNullLogger(),
		// go-plugin hands over a command carrying the handshake environment;
		// our runner runs the plugin binary with it.
		RunnerFunc: func(_ hclog.Logger, cmd *exec.Cmd, _ string) (pluginrunner.Runner, error) {
			r.use(cmd, cfg.Path)
			return r, nil
		},
	}
	p.client = goplugin.NewClient(cc)
	// go-plugin's handshake does not watch ctx, and its Kill waits for the
	// handshake: the runner ends the process itself when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = r.Kill(context.Background()) })
	rpc, err := p.client.Client()
	stop()
	var raw any
	if err == nil {
		raw, err = rpc.Dispense(contract.PluginName)
	}
	if ended := ctx.Err(); ended != nil {
		// The runner may have killed the process: ctx's end is the reason.
		if err != nil {
			err = fmt.Errorf("%w (%w)", ended, err)
		} else {
			err = ended
		}
	}
	if err != nil {
		p.Kill()
		r.discard()
		return nil, p.Explain(fmt.Errorf("launch miner %s: %w", cfg.Path, err))
	}
	p.Controller = raw.(contract.Controller)
	return p, nil
}

// CheckExecutable checks that path is a regular file the system may run.
// On Windows that is any regular file. Elsewhere it needs an execute bit.
func CheckExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", fi.Mode().Type())
	}
	if goruntime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("mode %v has no execute permission", fi.Mode().Perm())
	}
	return nil
}

// verifyChecksum refuses a binary whose SHA-256 is not want.
func verifyChecksum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("%s: SHA-256 is %x, want %x: refusing to run it", path, got, want)
	}
	return nil
}

// Pid returns the plugin's process id.
func (p *Process) Pid() int { return p.runner.pid() }

// Exited reports whether the plugin process has ended.
func (p *Process) Exited() bool { return p.client.Exited() }

// Logs returns the miner's last log lines.
func (p *Process) Logs() string { return p.out.String() }

// Kill stops the miner, gracefully first, then by force.
//
// A graceful stop lets the axon finish its queries in flight. The forced
// one kills the process group. Kill waits until the process is gone, at
// most some seconds however the miner behaves. It is idempotent.
func (p *Process) Kill() {
	p.once.Do(func() {
		if p.Controller != nil && !p.client.Exited() {
			ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			_ = p.Controller.Stop(ctx)
			cancel()
		}
		p.end()
	})
}

// end kills the process and takes its last unfinished lines.
//
// When go-plugin's kill takes too long, it kills the process group by
// force. Nothing is written to the Log once end returns.
func (p *Process) end() {
	force := time.AfterFunc(forceAfter, func() { _ = p.runner.Kill(context.Background()) })
	p.client.Kill()
	force.Stop()
	for _, s := range p.streams {
		s.flush()
	}
	p.out.detach()
}

// EndIfDying reports whether the process has ended or is ending.
//
// If so, it makes sure the process has ended. It may block for some 12 s
// and kill the process. A dead process breaks its axon's connections a
// moment before the host reaps it. So a process not yet reaped is asked
// for its Info. If that fails, the process is ending; a timeout does not
// count, as a busy miner is alive. EndIfDying then waits for its exit
// status, which Explain reports, and kills it if it does not exit.
func (p *Process) EndIfDying() bool {
	if p.Exited() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), controlProbeTimeout)
	_, err := p.Info(ctx)
	cancel()
	if err == nil || status.Code(err) == codes.DeadlineExceeded {
		return false
	}
	deadline := time.Now().Add(exitWait)
	for !p.Exited() && time.Now().Before(deadline) {
		time.Sleep(exitPollInterval)
	}
	if !p.Exited() {
		p.Kill()
	}
	return true
}

// Explain adds to err how the process ended and its last log lines.
func (p *Process) Explain(err error) error {
	if exit := p.runner.exitStatus(); exit != "" {
		err = fmt.Errorf("%w (miner %s)", err, exit)
	}
	if logs := p.Logs(); logs != "" {
		err = fmt.Errorf("%w\nlast lines of the miner's log:\n%s", err, logs)
	}
	return err
}
