package launch

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// sysProcAttr puts a miner in a process group of its own.
// The kernel also kills it when the host dies, whether or not the miner
// watches its parent.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// starter forks every miner from one OS thread that lives as long as the
// host.
//
// Pdeathsig fires when the thread that forked the child ends, not the
// process (see syscall.SysProcAttr and go.dev/issue/27505). Go ends a
// thread whose goroutine exits while locked to it. So a miner forked from
// any other thread could be killed while its host runs.
var starter struct {
	once sync.Once
	reqs chan startReq
}

type startReq struct {
	cmd  *exec.Cmd
	done chan<- error
}

// startCmd starts cmd from the starter's thread.
func startCmd(cmd *exec.Cmd) error {
	starter.once.Do(func() {
		starter.reqs = make(chan startReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the host
			for req := range starter.reqs {
				req.done <- req.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	starter.reqs <- startReq{cmd, done}
	return <-done
}
