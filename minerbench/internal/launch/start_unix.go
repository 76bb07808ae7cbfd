//go:build unix && !linux

package launch

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts a miner in a process group of its own.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
