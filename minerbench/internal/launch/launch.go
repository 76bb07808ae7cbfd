// Package launch is the host's side of a miner plugin: it starts the plugin
// binary, completes go-plugin's handshake, hands out its Controller, keeps
// everything the miner writes, and stops it.
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
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"

	"github.com/minerbench/minerbench/minerbench/internal/contract"
)

// DefaultLogLines is how many of a miner's last log lines a Process keeps for
// error messages.
const DefaultLogLines = 20

// stopTimeout bounds the graceful part of Process.Kill.
const stopTimeout = 5 * time.Second

// Config says how to start a miner plugin. Zero values mean defaults.
type Config struct {
	// Path is the plugin binary. Required.
	Path string
	// Args are extra command-line arguments for the plugin.
	Args []string
	// Checksum, when set, is the SHA-256 of the binary: one that does not
	// match is refused before it runs.
	Checksum []byte
	// Log, when non-nil, receives everything the miner writes, line by
	// line as it comes: its stderr (its log) and what it writes to
	// os.Stdout and os.Stderr once go-plugin's Serve has redirected them.
	// Nothing is written to Log once Kill returns, or Launch fails.
	Log io.Writer
	// LogLines is how many last log lines to keep for error messages
	// (default DefaultLogLines).
	LogLines int
	// StartTimeout bounds the handshake (default 30 s).
	StartTimeout time.Duration
}

// Process is a running miner plugin: a Controller over go-plugin's gRPC
// channel, plus what is needed to stop it and explain a failure.
type Process struct {
	contract.Controller
	client  *goplugin.Client
	runner  *cmdRunner
	out     *output
	streams [3]*stream // stderr, and the redirected stdout and stderr
	once    sync.Once
}

// Launch starts the plugin binary, completes the handshake (with automatic
// mutual TLS) and returns the running process. The process is registered with
// go-plugin's CleanupClients. On error nothing is left running.
func Launch(cfg Config) (*Process, error) {
	if cfg.Path == "" {
		return nil, errors.New("launch miner: plugin path is empty")
	}
	if err := CheckExecutable(cfg.Path); err != nil {
		return nil, fmt.Errorf("launch miner: %s: %w", cfg.Path, err)
	}
	if cfg.LogLines <= 0 {
		cfg.LogLines = DefaultLogLines
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.Checksum != nil {
		if err := verifyChecksum(cfg.Path, cfg.Checksum); err != nil {
			return nil, fmt.Errorf("launch miner: %w", err)
		}
	}
	p := &Process{out: newOutput(cfg.LogLines, cfg.Log)}
	for i := range p.streams {
		p.streams[i] = &stream{out: p.out}
	}
	cc := &goplugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.PluginSet(nil),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Managed:          true,
		AutoMTLS:         true,
		StartTimeout:     cfg.StartTimeout,
		Stderr:           p.streams[0],
		SyncStdout:       p.streams[1],
		SyncStderr:       p.streams[2],
		Logger:           hclog.NewNullLogger(),
		// go-plugin hands over a command carrying the handshake environment;
		// our runner runs the plugin binary with it and keeps its exit status.
		RunnerFunc: func(_ hclog.Logger, cmd *exec.Cmd, _ string) (runner.Runner, error) {
			cmd.Path = cfg.Path
			cmd.Args = append([]string{cfg.Path}, cfg.Args...)
			r, err := newCmdRunner(cmd)
			p.runner = r
			return r, err
		},
	}
	p.client = goplugin.NewClient(cc)
	rpc, err := p.client.Client()
	if err != nil {
		p.end()
		return nil, p.Explain(fmt.Errorf("launch miner %s: %w", cfg.Path, err))
	}
	raw, err := rpc.Dispense(contract.PluginName)
	if err != nil {
		p.end()
		return nil, p.Explain(fmt.Errorf("launch miner %s: %w", cfg.Path, err))
	}
	p.Controller = raw.(contract.Controller)
	return p, nil
}

// CheckExecutable checks that path is a regular file the system may run: on
// Windows any regular file, elsewhere one with an execute permission bit.
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
func (p *Process) Pid() int {
	if p.runner == nil {
		return 0
	}
	return p.runner.pid()
}

// Exited reports whether the plugin process has ended.
func (p *Process) Exited() bool { return p.client.Exited() }

// ExitError returns how the process ended (nil while it runs or after a clean
// exit), such as "exit status 2" or "signal: killed".
func (p *Process) ExitError() error {
	if p.runner == nil {
		return nil
	}
	return p.runner.exitError()
}

// Logs returns the miner's last log lines.
func (p *Process) Logs() string { return p.out.String() }

// Kill stops the miner: gracefully (its axon finishes in-flight queries),
// then by force. It waits until the process is gone and is idempotent.
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

// end kills the process and takes its last unfinished lines; nothing is
// written to the Log once it returns.
func (p *Process) end() {
	p.client.Kill()
	for _, s := range p.streams {
		s.flush()
	}
	p.out.detach()
}

// Explain adds the process's exit status and its last log lines to err,
// when there are any.
func (p *Process) Explain(err error) error {
	if exit := p.ExitError(); exit != nil {
		err = fmt.Errorf("%w (miner %s)", err, exit)
	}
	if logs := p.Logs(); logs != "" {
		err = fmt.Errorf("%w\nlast lines of the miner's log:\n%s", err, logs)
	}
	return err
}

// cmdRunner runs the plugin command for go-plugin and remembers how it ended.
type cmdRunner struct {
	cmd            *exec.Cmd
	stdout, stderr io.ReadCloser

	mu      sync.Mutex
	waitErr error
}

func newCmdRunner(cmd *exec.Cmd) (*cmdRunner, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	return &cmdRunner{cmd: cmd, stdout: stdout, stderr: stderr}, nil
}

func (r *cmdRunner) Start(context.Context) error { return r.cmd.Start() }

func (r *cmdRunner) Diagnose(context.Context) string {
	return "the plugin did not complete go-plugin's handshake: is " + r.cmd.Path + " a minerbench miner built with miner.Serve?"
}

func (r *cmdRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *cmdRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *cmdRunner) Name() string          { return r.cmd.Path }

func (r *cmdRunner) Wait(context.Context) error {
	err := r.cmd.Wait()
	r.mu.Lock()
	r.waitErr = err
	r.mu.Unlock()
	return err
}

func (r *cmdRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *cmdRunner) ID() string { return strconv.Itoa(r.pid()) }

func (r *cmdRunner) pid() int {
	if r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

func (r *cmdRunner) exitError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waitErr
}

func (r *cmdRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *cmdRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
