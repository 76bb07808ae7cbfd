package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// ErrLocked says another writer holds the history.
// Open wraps it, whether that writer is in this process or another.
var ErrLocked = errors.New("history: locked by another writer")

// ErrClosed is returned by a Writer's methods after Commit or Abort.
var ErrClosed = errors.New("history: writer already committed or aborted")

// file is what a Writer writes rows to.
// It is an *os.File, or in tests one that fails.
type file interface {
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Writer appends rows to a history.
//
// Its methods are safe for concurrent use. Always end a Writer with Commit
// or Abort, because it holds the history's lock until then. A deferred
// w.Abort() is safe after a Commit.
//
// Each Append writes its rows to the end of the file in place, in one
// write. So an append costs the same however long the history is. Commit
// makes the rows durable with fsync, and Abort removes them again. At
// every moment, the file holds the header and whole rows. Only a write cut
// short can leave part of a row at its end, as when the disk is full, the
// process is killed, or the machine loses power. Append removes that part
// itself when its write fails. Otherwise the next Open cuts it before
// appending (TornLine returns it). So no row is ever appended to a partial
// one.
//
// Committed rows survive a crash of the machine. Rows appended but not yet
// committed survive the process being killed. A power loss may lose them.
// Some file systems may then show them as garbage, which the next Open
// refuses, naming the line.
//
// The lock is an exclusive lock on the history file itself (flock on
// Unix). It is held from Open to Commit or Abort, and the kernel releases
// it if the process dies. So no lock file is left beside the history.
type Writer struct {
	mu      sync.Mutex
	path    string
	lock    *os.File // the history file, locked
	f       file     // where rows go: lock, or with restart the temporary file
	tmpName string   // with restart, the file renamed over the history at Commit
	created bool     // Open created the history file; Abort removes it
	start   int64    // size of f when Open returned, less a header Open wrote to an empty history
	size    int64    // size of f
	next    int64    // index of the next row
	torn    string

	info   RunInfo // of the cached suffix
	suffix []byte  // the columns after the record's, for info; empty until the first Append
	buf    []byte  // scratch for the rows of one Append

	err  error // first write error; every later call returns it
	done bool
}

// Open starts appending to the history at path.
//
// It creates the parent directories and takes the history's lock. If
// another writer holds it, Open fails at once with an error wrapping
// ErrLocked. It does not wait, so a second run never hangs unseen behind a
// stuck one.
//
// Without restart, a file at path must be a history. That is the exact
// Header line, then well-formed rows, each ending in a newline. Open checks
// the whole file, at about 0.7 µs a row. A bad file gets a *FormatError and
// is left as it is. For a history without start_time, the error wraps
// ErrOldFormat. An empty or missing file starts a new history. New rows
// continue the index after the last row. A partial last row, which only a
// write cut short leaves, is cut before anything is appended. TornLine
// returns it.
//
// With restart, the new history starts from the header, with the index at
// 0, whatever the file holds. It is written to a temporary file beside the
// history and renamed over it at Commit. The old history stays until then.
func Open(path string, restart bool) (*Writer, error) {
	if path == "" {
		return nil, errors.New("history: path is empty: want the file name of a history")
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("history: %s is a %s: want a regular file", path, st.Mode().Type())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	lock, created, err := acquire(path)
	if err != nil {
		return nil, err
	}
	w, err := start(path, lock, created, restart)
	if err != nil {
		if created {
			os.Remove(path)
		}
		lock.Close()
		return nil, err
	}
	return w, nil
}

// acquire opens and locks the history at path, creating it if missing.
// created reports that this call created the file.
func acquire(path string) (lock *os.File, created bool, err error) {
	for {
		f, created, err := openOrCreate(path)
		if err != nil {
			return nil, false, err
		}
		current, err := lockCurrent(f, path)
		if err != nil {
			f.Close()
			return nil, false, err
		}
		if current {
			return f, created, nil
		}
		f.Close() // releases the lock on the stale file
	}
}

// lockCurrent locks f, opened at path, and reports whether it is still the
// file at path.
//
// Between the open and the lock, a restart's Commit may have replaced it.
// Or the Abort of the run that created it may have removed it. The history
// is then the file now at path. lockCurrent fails with an error wrapping
// ErrLocked when another writer holds f.
func lockCurrent(f *os.File, path string) (bool, error) {
	busy, err := tryLock(f)
	if err != nil {
		return false, fmt.Errorf("history: lock %s: %w", path, err)
	}
	if busy {
		return false, fmt.Errorf("history: %s is being written by another run: %w", path, ErrLocked)
	}
	current, err := isCurrent(f, path)
	if err != nil {
		return false, fmt.Errorf("history: %w", err)
	}
	return current, nil
}

// openOrCreate opens the file at path for reading and writing, creating it
// if it is missing.
func openOrCreate(path string) (*os.File, bool, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			if err != nil {
				return nil, false, fmt.Errorf("history: %w", err)
			}
			return f, false, nil
		}
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			if err != nil {
				return nil, false, fmt.Errorf("history: %w", err)
			}
			return f, true, nil
		}
	}
}

// isCurrent reports whether f is still the file at path.
func isCurrent(f *os.File, path string) (bool, error) {
	held, err := f.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(held, now), nil
}

// tmpPrefix is the name prefix of a restart's temporary files.
// Under the lock, any file with it is left over from a crashed run.
func tmpPrefix(path string) string {
	return "." + filepath.Base(path) + ".tmp-"
}

// start checks the locked history and returns the Writer appending to it.
func start(path string, lock *os.File, created, restart bool) (*Writer, error) {
	st, err := lock.Stat()
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("history: %s is a %s: want a regular file", path, st.Mode().Type())
	}
	removeLeftovers(path)
	w := &Writer{path: path, lock: lock, f: lock, created: created, buf: make([]byte, 0, 256)}
	size := st.Size()
	switch {
	case restart && size > 0:
		tmp, err := os.CreateTemp(filepath.Dir(path), tmpPrefix(path)+"*")
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		w.f, w.tmpName = tmp, tmp.Name()
		if err := tmp.Chmod(st.Mode().Perm()); err != nil {
			w.removeTmp()
			return nil, fmt.Errorf("history: %w", err)
		}
	case size > 0:
		keep, next, torn, err := scan(lock, path, size)
		if err != nil {
			return nil, err
		}
		if keep < size {
			if err := lock.Truncate(keep); err != nil {
				return nil, fmt.Errorf("history: cut the partial last row of %s: %w", path, err)
			}
			w.torn = torn
		}
		w.start, w.size, w.next = keep, keep, next
		return w, nil
	}
	if _, err := w.f.WriteAt([]byte(Header+"\n"), 0); err != nil {
		if w.tmpName != "" {
			w.removeTmp()
		} else {
			lock.Truncate(0)
		}
		return nil, fmt.Errorf("history: write %s: %w", path, err)
	}
	w.size = int64(len(Header) + 1)
	return w, nil
}

// removeLeftovers deletes what crashed runs and earlier versions left
// beside the history at path.
//
// These are restarts' temporary files, and the empty lock file
// path+".lock" that earlier versions locked instead of the history. A
// failure is harmless, so errors are ignored.
func removeLeftovers(path string) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix, lockName := tmpPrefix(path), filepath.Base(path)+".lock"
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		name := e.Name()
		switch {
		case strings.HasPrefix(name, prefix):
			os.Remove(filepath.Join(dir, name))
		case name == lockName:
			if info, err := e.Info(); err == nil && info.Size() == 0 {
				os.Remove(filepath.Join(dir, name))
			}
		}
	}
}

// scan checks that the first size bytes of f hold a history.
//
// keep is where the whole lines end. It is size, or the start of torn, a
// partial last row. next is the index of the next row.
func scan(f io.ReaderAt, path string, size int64) (keep, next int64, torn string, err error) {
	// A partial row is shorter than maxLine: look for the last newline
	// within that much of the end.
	tail := make([]byte, min(size, maxLine+1))
	if _, err := f.ReadAt(tail, size-int64(len(tail))); err != nil {
		return 0, 0, "", fmt.Errorf("history: read %s: %w", path, err)
	}
	i := bytes.LastIndexByte(tail, '\n')
	keep = size
	switch {
	case i < 0 && int64(len(tail)) == size:
		// Not even the header is whole.
		if string(tail) == Header {
			return 0, 0, "", &FormatError{Path: path, Line: 1, Value: quote(tail), Reason: "header does not end in a newline: the file is truncated"}
		}
		return 0, 0, "", checkHeader(path, tail, nil)
	case i >= 0:
		keep = size - int64(len(tail)) + int64(i) + 1
		torn = string(tail[i+1:])
	}
	// Without a newline near the end of a longer file, the last line is
	// too long to be a row, and the reader refuses it.
	r := NewReader(io.NewSectionReader(f, 0, keep), path)
	last := int64(-1)
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, "", err
		}
		last = row.Index
	}
	if last == math.MaxInt64 {
		return 0, 0, "", &FormatError{Path: path, Line: r.line, Column: columns[0], Value: strconv.FormatInt(last, 10),
			Reason: "the index cannot go on past the largest int64"}
	}
	return keep, last + 1, torn, nil
}

// TornLine returns the partial last row that Open cut, or "" if none.
// A write cut short by a crash leaves such a row.
func (w *Writer) TornLine() string { return w.torn }

// Append writes the rows of recs to the end of the history in one write.
//
// Each row gets the next index and the run's settings info. If the write
// fails, the part of it that reached the file is removed. This call and
// every later one return the error, and so does Commit, which then leaves
// the history as Open found it.
func (w *Writer) Append(info RunInfo, recs ...Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if len(w.suffix) == 0 || info != w.info {
		if err := info.validate(); err != nil {
			return err
		}
		w.info, w.suffix = info, appendSuffix(w.suffix[:0], info)
	}
	b := w.buf[:0]
	for i, r := range recs {
		if err := r.validate(); err != nil {
			return err
		}
		b = appendRecord(b, w.next+int64(i), r)
		b = append(b, w.suffix...)
	}
	w.buf = b
	n, err := w.f.WriteAt(b, w.size)
	if err != nil {
		w.err = fmt.Errorf("history: write %s: %w", w.path, err)
		if n > 0 {
			if terr := w.f.Truncate(w.size); terr != nil {
				w.err = fmt.Errorf("%w (and removing the partial write: %v)", w.err, terr)
			}
		}
		return w.err
	}
	w.size += int64(n)
	w.next += int64(len(recs))
	return nil
}

// Commit makes the appended rows durable and releases the history.
//
// It syncs the file and unlocks it. With restart, it first renames the new
// history over the old. After a failed Append, or if the sync or rename
// fails, it removes the appended rows instead and returns the error. The
// history is then as Open found it. Commit after Commit or Abort returns
// ErrClosed.
func (w *Writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return ErrClosed
	}
	err := w.err
	if err == nil {
		err = w.f.Sync()
	}
	if err == nil && w.tmpName != "" {
		err = w.f.Close()
		if err == nil {
			err = os.Rename(w.tmpName, w.path)
		}
	}
	if err != nil {
		w.discard()
		return fmt.Errorf("history: commit %s: %w", w.path, err)
	}
	w.done = true
	if w.created || w.tmpName != "" {
		err = syncDir(filepath.Dir(w.path))
	}
	w.lock.Close()
	if err != nil {
		return fmt.Errorf("history: commit %s: sync directory: %w", w.path, err)
	}
	return nil
}

// Abort removes the appended rows and releases the history.
//
// The history is left as Open found it, less a partial last row Open cut.
// Abort is idempotent and does nothing after Commit.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.discard()
	}
}

// discard ends w, removing what it wrote. The caller holds w.mu.
func (w *Writer) discard() {
	w.done = true
	switch {
	case w.tmpName != "":
		w.removeTmp()
	case w.created:
		os.Remove(w.path)
	default:
		w.f.Truncate(w.start)
	}
	w.lock.Close()
}

// removeTmp closes and removes a restart's temporary file.
func (w *Writer) removeTmp() {
	w.f.Close()
	os.Remove(w.tmpName)
}
