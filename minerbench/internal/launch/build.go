package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Build builds a miner's plugin binary into dir and returns its path.
//
// It runs one go build of package pkg, and the build cache makes repeats
// fast. It uses the go command on PATH, where go test puts its own
// toolchain's first.
func Build(ctx context.Context, dir, name, pkg string) (string, error) {
	out := filepath.Join(dir, name)
	if msg, err := exec.CommandContext(ctx, "go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return "", fmt.Errorf("build miner %s (%s): %w\n%s", name, pkg, err, msg)
	}
	return out, nil
}

// BuildDirPrefix starts the name of a run's build directory.
//
// The directory is in os.TempDir(), and the owner's pid follows the
// prefix. A run stopped without a chance to clean up leaves it behind, as
// after a SIGKILL, a crash or a test timeout. The next run removes it.
const BuildDirPrefix = "minerbench-miners-"

// NewBuildDir makes the directory this process builds its miners in.
// It first removes the build directories whose owner process has ended.
func NewBuildDir() (string, error) {
	removeOrphanBuildDirs(os.TempDir())
	return os.MkdirTemp("", BuildDirPrefix+strconv.Itoa(os.Getpid())+"-")
}

// removeOrphanBuildDirs removes the build directories in dir whose owner
// process no longer runs.
func removeOrphanBuildDirs(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), BuildDirPrefix)
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

// running reports whether process pid exists.
//
// On Windows, FindProcess fails for one that does not. Elsewhere, a
// process that refuses the null signal, such as another user's, counts as
// running.
func running(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
