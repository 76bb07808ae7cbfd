//go:build unix

package launch

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// killGroup kills the process group p leads, with whatever p started.
func killGroup(p *os.Process) error {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", p.Pid, err)
	}
	return nil
}

// watchdogScript is the watchdog's shell program.
// It keeps the last line read, the live groups as kill operands. It kills
// them once its input ends.
const watchdogScript = `g=
while read -r l; do g=$l; done
[ -z "$g" ] || kill -s KILL -- $g 2>/dev/null`

// watchdog ends the miners' process groups if the host ends without
// stopping them.
//
// That happens after a SIGKILL, a panic or a test timeout. The watchdog is
// a shell process that outlives the host. The host writes it the live
// groups, a line each time they change. The pipe closes when the host
// ends, however it ends. Pdeathsig ends a miner with its host, but not
// what the miner started.
type watchdog struct {
	once   sync.Once
	err    error
	mu     sync.Mutex
	pipe   *os.File
	groups map[int]bool
}

// guard is the host's watchdog, started by the first launch.
var guard watchdog

// start starts the watchdog once.
// Later calls return the first one's error.
func (w *watchdog) start() error {
	w.once.Do(func() {
		r, pipe, err := os.Pipe()
		if err != nil {
			w.err = err
			return
		}
		defer r.Close()
		cmd := exec.Command("/bin/sh", "-c", watchdogScript)
		cmd.Stdin = r
		// A group of its own: a Ctrl-C at the terminal, sent to the
		// host's group, must not end the watchdog.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			pipe.Close()
			w.err = fmt.Errorf("start the watchdog that ends the miners if the host dies: %w", err)
			return
		}
		go func() { _ = cmd.Wait() }() // reap it should it end early
		w.pipe, w.groups = pipe, map[int]bool{}
	})
	return w.err
}

// watch adds the group led by pid to the groups the watchdog ends.
func (w *watchdog) watch(pid int) { w.set(pid, true) }

// forget removes the group led by pid, once it has ended.
func (w *watchdog) forget(pid int) { w.set(pid, false) }

func (w *watchdog) set(pid int, live bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pipe == nil {
		return
	}
	if live {
		w.groups[pid] = true
	} else {
		delete(w.groups, pid)
	}
	var line strings.Builder
	for _, g := range slices.Sorted(maps.Keys(w.groups)) {
		fmt.Fprintf(&line, " -%d", g)
	}
	line.WriteByte('\n')
	// A watchdog that is gone cannot be helped; the miners still end with
	// their host through Pdeathsig.
	_, _ = w.pipe.WriteString(line.String())
}
