package minerbench

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// buildDirPrefix starts the name of the directory, in os.TempDir(), that a
// run builds its miners in; the pid of the process that owns it follows. A
// run stopped without a chance to clean up (a SIGKILL, a crash, a test
// timeout) leaves it behind, and the next run removes it.
const buildDirPrefix = "minerbench-miners-"

// newBuildDir removes the build directories whose owner has ended, then
// makes this process's.
func newBuildDir() (string, error) {
	removeOrphanBuildDirs(os.TempDir())
	return os.MkdirTemp("", buildDirPrefix+strconv.Itoa(os.Getpid())+"-")
}

// removeOrphanBuildDirs removes the build directories in dir whose owner
// process no longer runs.
func removeOrphanBuildDirs(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), buildDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		owner, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(owner)
		if !ok || err != nil || pid <= 0 || running(pid) {
			continue
		}
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// running reports whether process pid exists: on Windows FindProcess fails
// for one that does not; a process that refuses the null signal (another
// user's) counts as running.
func running(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
