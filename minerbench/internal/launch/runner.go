package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// drainBound bounds go-plugin's reads of a miner's pipes after its exit.
//
// Once the miner has exited and its process group has ended, its stdout
// and stderr close at once. A process that left the group may still hold
// them. They are cut after drainBound.
const drainBound = 2 * time.Second

// errCancelled is Start's error after a Kill.
var errCancelled = errors.New("the launch was cancelled before the process started")

// runner is go-plugin's runner.Runner of a miner's command.
//
// The miner runs in a process group of its own. Every kill ends the group,
// and so does the miner's exit, so that nothing it started outlives it. On
// Linux the kernel also kills the miner when the host dies. go-plugin
// reads the miner's stdout and stderr to their end before it waits for
// the process. So the pipes must end. The runner reaps the process itself
// and bounds how long the pipes stay open after it.
type runner struct {
	// stdout and stderr are the read ends of the miner's pipes.
	stdout, stderr *os.File
	// outW and errW are the write ends, the miner's stdout and stderr.
	outW, errW *os.File
	closeOnce  sync.Once

	mu        sync.Mutex
	cmd       *exec.Cmd // set by use
	cancelled bool      // Kill came before Start: the process must not start
	reaped    bool      // the process has exited and was reaped: its pid is free

	done    chan struct{} // closed once the process has exited and was reaped
	waitErr error         // how it ended; written before done closes
}

// newRunner returns a runner with the pipes the miner will write to.
// use sets its command.
func newRunner() (*runner, error) {
	stdout, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stderr, errW, err := os.Pipe()
	if err != nil {
		stdout.Close()
		outW.Close()
		return nil, err
	}
	return &runner{stdout: stdout, stderr: stderr, outW: outW, errW: errW, done: make(chan struct{})}, nil
}

// use makes cmd the command to run, path with args.
//
// go-plugin built cmd with the handshake's environment. It runs in a
// process group of its own, with an empty stdin. A process outside the
// terminal's foreground group that reads the terminal is stopped.
func (r *runner) use(cmd *exec.Cmd, path string) {
	cmd.Path = path
	cmd.Args = []string{path}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = r.outW, r.errW
	cmd.SysProcAttr = sysProcAttr()
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
}

// Start starts the process and begins to watch for its exit.
func (r *runner) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := errCancelled
	if !r.cancelled {
		err = startCmd(r.cmd)
	}
	// The miner holds the write ends now; the host's copies would keep the
	// pipes open after it exits.
	r.outW.Close()
	r.errW.Close()
	if err != nil {
		r.closePipes()
		return err
	}
	guard.watch(r.cmd.Process.Pid)
	go r.reap()
	return nil
}

// reap waits for the process to exit and ends what it left in its group.
// Then it bounds how long the pipes stay open.
func (r *runner) reap() {
	err := r.cmd.Wait()
	r.mu.Lock()
	_ = killGroup(r.cmd.Process)
	r.reaped = true
	r.mu.Unlock()
	guard.forget(r.cmd.Process.Pid)
	r.waitErr = err
	close(r.done)
	time.AfterFunc(drainBound, r.closePipes)
}

// discard closes the pipes of a runner whose process never started.
func (r *runner) discard() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		r.outW.Close()
		r.errW.Close()
		r.closePipes()
	}
}

func (r *runner) closePipes() {
	r.closeOnce.Do(func() {
		r.stdout.Close()
		r.stderr.Close()
	})
}

// Wait waits for the process to exit and returns how it ended.
// go-plugin calls it once it has read the pipes to their end.
func (r *runner) Wait(context.Context) error {
	<-r.done
	r.closePipes()
	return r.waitErr
}

// Kill ends the process and its group at once.
// Before Start, it keeps the process from starting. Once the process has
// been reaped, it does nothing.
func (r *runner) Kill(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.cmd == nil || r.cmd.Process == nil:
		r.cancelled = true
		return nil
	case r.reaped:
		return nil
	}
	return killGroup(r.cmd.Process)
}

func (r *runner) Diagnose(context.Context) string {
	return "the plugin did not complete go-plugin's handshake: is " + r.Name() + " a minerbench miner built with miner.Serve?"
}

func (r *runner) Stdout() io.ReadCloser { return r.stdout }
func (r *runner) Stderr() io.ReadCloser { return r.stderr }

func (r *runner) Name() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return ""
	}
	return r.cmd.Path
}

// ID is the process id, or "" before the process has started.
func (r *runner) ID() string {
	if pid := r.pid(); pid != 0 {
		return strconv.Itoa(pid)
	}
	return ""
}

// pid is the process id, or 0 before the process has started.
func (r *runner) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// exited reports whether the process has exited and was reaped.
func (r *runner) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// exitStatus describes how the process ended, or returns "" while it runs.
// It reads as "exit status 0" or "signal: killed".
func (r *runner) exitStatus() string {
	if !r.exited() {
		return ""
	}
	return fmt.Sprint(r.cmd.ProcessState)
}

func (r *runner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *runner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
