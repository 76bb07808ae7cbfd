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
	state, _, err := procStat(pid)
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	return state == 'Z'
}

// Descendants returns the pids of pid's children, their children, and so on,
// as /proc shows them now (on Linux; elsewhere none).
func Descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parent(p); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// parent returns the parent pid of pid from /proc/pid/stat.
func parent(pid int) (int, bool) {
	_, ppid, err := procStat(pid)
	return ppid, err == nil
}

// procStat reads the state and the parent pid of pid from /proc/pid/stat.
func procStat(pid int) (state byte, ppid int, err error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// After the command name in parentheses: the state, then the ppid.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("no command name in /proc/pid/stat")
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, errors.New("no state and parent in /proc/pid/stat")
	}
	ppid, err = strconv.Atoi(string(fields[1]))
	return fields[0][0], ppid, err
}
