// Package proctest tells tests whether a process has ended.
package proctest

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// Reaped reports whether pid no longer exists: it ended and was reaped.
func Reaped(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// Gone reports whether pid has ended: it no longer exists, or it is a zombie.
// An orphan that exits stays a zombie until init reaps it, and the init of
// some containers never does.
func Gone(pid int) bool {
	if Reaped(pid) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}
