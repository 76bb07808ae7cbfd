//go:build windows

package history

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive lock on f without waiting; busy reports that
// another open file holds it. Windows locks are mandatory, so the lock is
// on one byte far past any history's end, where it keeps no reader out.
// Closing f, or the process dying, releases it.
func tryLock(f *os.File) (busy bool, err error) {
	ol := windows.Overlapped{Offset: 0xFFFFFFFF, OffsetHigh: 0x7FFFFFFF}
	err = windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	return false, err
}

// syncDir does nothing on Windows: os cannot open a directory there for
// flushing, so a rename is as durable as the file system's own metadata
// journal makes it.
func syncDir(string) error { return nil }
