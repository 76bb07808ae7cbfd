package launch_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/internal/proctest"
)

// TestMinerOutlivesTheLaunchingThread launches a miner from a goroutine
// locked to its OS thread, which Go ends when the goroutine returns. The
// kernel sends Pdeathsig when the thread that forked the child ends, not
// the process: a miner forked from that thread would be killed while its
// host runs.
func TestMinerOutlivesTheLaunchingThread(t *testing.T) {
	type launched struct {
		p   *launch.Process
		tid int
		err error
	}
	var l launched
	for {
		done := make(chan launched, 1)
		go func() {
			runtime.LockOSThread() // not unlocked: the thread ends with this goroutine
			p, err := launch.Launch(context.Background(), launch.Config{Path: noopBin})
			done <- launched{p, syscall.Gettid(), err}
		}()
		l = <-done
		require.NoError(t, l.err)
		t.Cleanup(l.p.Kill)
		// Go does not end the main thread; try again on another.
		if l.tid != os.Getpid() {
			break
		}
	}
	task := "/proc/self/task/" + strconv.Itoa(l.tid)
	require.Eventually(t, func() bool {
		_, err := os.Stat(task)
		return errors.Is(err, fs.ErrNotExist)
	}, endBound, pollEvery, "the launching thread %d did not end", l.tid)

	// Had the thread's end sent the miner SIGKILL, it would not answer,
	// and would be gone by the time it should have.
	info, err := l.p.Info(context.Background())
	require.NoError(t, err, "the miner was killed when the launching thread ended")
	assert.Equal(t, "noop", info.Name)
	assert.False(t, proctest.Gone(l.p.Pid()))
	assert.False(t, l.p.Exited())
}
