//go:build !unix

package launch

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }

// killGroup kills p. Process groups are a unix feature.
func killGroup(p *os.Process) error {
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// watchdog does nothing where process groups do not exist.
type watchdog struct{}

var guard watchdog

func (watchdog) start() error { return nil }
func (watchdog) watch(int)    {}
func (watchdog) forget(int)   {}
