package history

import (
	"bufio"
	"bytes"
	"context"
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
	"time"
)

// ErrLocked is returned, wrapped, by Open when another writer, in this
// process or another, holds the history's lock.
var ErrLocked = errors.New("history: locked by another writer")

// ErrClosed is returned by a Writer's methods after Commit or Abort.
var ErrClosed = errors.New("history: writer already committed or aborted")

// lockPoll is how often OpenWait retries a held lock.
const lockPoll = 20 * time.Millisecond

// writeBuffer is the size of a Writer's buffer: rows reach the disk in
// chunks of this size.
const writeBuffer = 64 << 10

// Writer appends records to a history without ever holding more than a
// buffer of rows in memory. It writes a temporary copy of the history beside
// it and renames the copy over the history at Commit, so a crash or kill at
// any moment leaves either the old history or the new complete one.
//
// A Writer holds an exclusive lock on the history from Open until Commit or
// Abort: always end it with one of them (defer w.Abort() is safe after a
// Commit). Its methods are safe for concurrent use; each Append writes one
// whole row.
type Writer struct {
	mu     sync.Mutex
	path   string
	lock   *os.File
	tmp    *os.File
	bw     *bufio.Writer
	next   int64
	suffix []byte // the run's settings columns and the newline, the same on every row
	buf    []byte // scratch for one row
	err    error  // first write error; Commit reports it
	done   bool
}

// Open starts writing the history at path for a run with settings info. It
// creates the parent directories and takes the lock on the sibling file
// path+".lock" (left in place afterwards; removing it would race with the
// next writer). If another writer holds the lock, Open fails at once with an
// error wrapping ErrLocked rather than wait, so a second run never hangs
// unseen behind a stuck one; OpenWait waits instead.
//
// If path exists and restart is false, it must be a history: the exact
// Header line and a well-formed last row. Otherwise Open returns a
// *FormatError and leaves the file untouched. Rows appended then continue
// the index after the last existing row. With restart true, the new history
// starts from the header alone with the index at 0; the old file stays in
// place until Commit replaces it.
func Open(path string, info RunInfo, restart bool) (*Writer, error) {
	return open(context.Background(), path, info, restart, false)
}

// OpenWait is Open, except that when another writer holds the lock it waits
// for the lock to be released, until ctx is done.
func OpenWait(ctx context.Context, path string, info RunInfo, restart bool) (*Writer, error) {
	return open(ctx, path, info, restart, true)
}

func open(ctx context.Context, path string, info RunInfo, restart, wait bool) (*Writer, error) {
	if path == "" {
		return nil, errors.New("history: path is empty: want the file name of a history")
	}
	if err := info.validate(); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	lock, err := acquire(ctx, path, wait)
	if err != nil {
		return nil, err
	}
	w, err := start(path, info, restart, lock)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return w, nil
}

// acquire opens the lock file of path and locks it, waiting if wait is set.
func acquire(ctx context.Context, path string, wait bool) (*os.File, error) {
	name := path + ".lock"
	lock, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("history: lock: %w", err)
	}
	var tick *time.Ticker
	for {
		busy, err := tryLock(lock)
		switch {
		case err != nil:
			lock.Close()
			return nil, fmt.Errorf("history: lock %s: %w", name, err)
		case !busy:
			return lock, nil
		case !wait:
			lock.Close()
			return nil, fmt.Errorf("history: %s is being written by another run (it holds %s): %w", path, name, ErrLocked)
		}
		if tick == nil {
			tick = time.NewTicker(lockPoll)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			lock.Close()
			return nil, fmt.Errorf("history: waiting for the lock %s: %w", name, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// tmpPrefix is the name prefix of the temporary copies of the history at
// path; under the lock, any file with it is left over from a crashed run.
func tmpPrefix(path string) string {
	return "." + filepath.Base(path) + ".tmp-"
}

// start writes the temporary copy of the history and returns the Writer
// appending to it. The caller holds the lock.
func start(path string, info RunInfo, restart bool, lock *os.File) (*Writer, error) {
	dir := filepath.Dir(path)
	removeLeftovers(dir, tmpPrefix(path))

	mode := fs.FileMode(0o644)
	var src *os.File
	var size, next int64
	switch f, err := os.Open(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("history: %w", err)
	default:
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("history: %s is a %s: want a regular file", path, st.Mode().Type())
		}
		mode = st.Mode().Perm()
		if !restart {
			if next, err = checkHistory(f, path, st.Size()); err != nil {
				return nil, err
			}
			src, size = f, st.Size()
		}
	}

	tmp, err := os.CreateTemp(dir, tmpPrefix(path)+"*")
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	w := &Writer{
		path:   path,
		lock:   lock,
		tmp:    tmp,
		bw:     bufio.NewWriterSize(tmp, writeBuffer),
		next:   next,
		suffix: appendRunInfo(nil, info),
		buf:    make([]byte, 0, 256),
	}
	if err := tmp.Chmod(mode); err != nil {
		w.removeTmp()
		return nil, fmt.Errorf("history: %w", err)
	}
	if src != nil {
		_, err = io.CopyN(w.bw, src, size)
	} else {
		_, err = w.bw.WriteString(Header + "\n")
	}
	if err != nil {
		w.removeTmp()
		return nil, fmt.Errorf("history: copy %s to %s: %w", path, tmp.Name(), err)
	}
	return w, nil
}

// removeLeftovers deletes the temporary copies that crashed runs left in
// dir. Failing to is harmless (each run's copy has a fresh name), so errors
// are ignored.
func removeLeftovers(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// checkHistory checks that f, of the given size, holds a history: the
// header line, then rows of which the last is well formed. It returns the
// index the next row takes.
func checkHistory(f io.ReaderAt, path string, size int64) (int64, error) {
	if size == 0 {
		return 0, &FormatError{Path: path, Reason: "empty file: want the header " + strconv.Quote(Header)}
	}
	head := make([]byte, min(size, maxLine))
	if _, err := f.ReadAt(head, 0); err != nil {
		return 0, fmt.Errorf("history: read %s: %w", path, err)
	}
	first, _, found := bytes.Cut(head, []byte{'\n'})
	if err := checkHeader(path, first); err != nil {
		return 0, err
	}
	if !found {
		return 0, &FormatError{Path: path, Line: 1, Value: quote(first), Reason: "header does not end in a newline: the file is truncated"}
	}
	bodyStart := int64(len(Header) + 1)
	if size == bodyStart {
		return 0, nil
	}

	off := max(bodyStart, size-maxLine)
	tail := make([]byte, size-off)
	if _, err := f.ReadAt(tail, off); err != nil {
		return 0, fmt.Errorf("history: read %s: %w", path, err)
	}
	lines := func() int {
		n, err := countLines(f, size)
		if err != nil {
			return 0
		}
		return n
	}
	if tail[len(tail)-1] != '\n' {
		last := tail[bytes.LastIndexByte(tail, '\n')+1:]
		return 0, &FormatError{Path: path, Line: lines() + 1, Value: quote(last),
			Reason: "last line does not end in a newline: the file is truncated"}
	}
	body := tail[:len(tail)-1]
	i := bytes.LastIndexByte(body, '\n')
	if i < 0 && off > bodyStart {
		return 0, &FormatError{Path: path, Line: lines(), Value: quote(body),
			Reason: fmt.Sprintf("line longer than %d bytes: not a history row", maxLine)}
	}
	row, ferr := parseRow(body[i+1:])
	if ferr != nil {
		return 0, ferr.at(path, lines())
	}
	if row.Index == math.MaxInt64 {
		return 0, &FormatError{Path: path, Line: lines(), Column: columns[0], Value: strconv.FormatInt(row.Index, 10),
			Reason: "the index cannot go on past the largest int64"}
	}
	return row.Index + 1, nil
}

// countLines counts the newlines in the first size bytes of f.
func countLines(f io.ReaderAt, size int64) (int, error) {
	r := io.NewSectionReader(f, 0, size)
	buf := make([]byte, 32<<10)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Append writes the row of r, with the run's settings and the next index.
// Rows go through a buffer; a write error is returned here and again by
// Commit, which then keeps the old history.
func (w *Writer) Append(r Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	b := appendRecord(w.buf[:0], w.next, r)
	b = append(b, w.suffix...)
	w.buf = b
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("history: write %s: %w", w.tmp.Name(), err)
		return w.err
	}
	w.next++
	return nil
}

// Commit makes the appended rows part of the history: it flushes and syncs
// the temporary copy, renames it over the history and releases the lock. On
// error the old history is left as it was (unless only the final directory
// sync failed, after the rename). Commit after Commit or Abort returns
// ErrClosed.
func (w *Writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return ErrClosed
	}
	err := w.err
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil {
		err = w.tmp.Sync()
	}
	if err == nil {
		err = w.tmp.Close()
	}
	if err == nil {
		err = os.Rename(w.tmp.Name(), w.path)
	}
	if err != nil {
		w.discard()
		return fmt.Errorf("history: commit %s: %w", w.path, err)
	}
	w.done = true
	err = syncDir(filepath.Dir(w.path))
	w.lock.Close()
	if err != nil {
		return fmt.Errorf("history: commit %s: sync directory: %w", w.path, err)
	}
	return nil
}

// Abort drops the appended rows: it removes the temporary copy and releases
// the lock, leaving the history as it was. It is idempotent and does nothing
// after Commit.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.discard()
	}
}

// discard ends w: it removes the temporary copy and releases the lock.
// w.mu is held.
func (w *Writer) discard() {
	w.done = true
	w.removeTmp()
	w.lock.Close()
}

// removeTmp closes and removes the temporary copy.
func (w *Writer) removeTmp() {
	w.tmp.Close()
	os.Remove(w.tmp.Name())
}
