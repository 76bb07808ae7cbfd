package history

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// t0 is a run's start with a fraction that float seconds carry exactly.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 250_000_000, time.UTC)

var testInfo = RunInfo{NProcesses: 2, NCalls: 100, BatchSize: 10, BlockSize: 20, WorldSize: 1, Start: t0}

// rec is a query answered i seconds after the run's start.
func rec(i int, code Code, latency time.Duration) Record {
	return Record{Latency: latency, Code: code, Elapsed: time.Duration(i) * time.Second}
}

// writeHistory appends records to path in one run of info.
func writeHistory(t *testing.T, path string, info RunInfo, restart bool, recs ...Record) {
	t.Helper()
	w, err := Open(path, restart)
	require.NoError(t, err)
	defer w.Abort()
	require.NoError(t, w.Append(info, recs...))
	require.NoError(t, w.Commit())
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// dirNames lists the file names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriterExactColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results", "mock", "default", "template", "queries.csv")
	writeHistory(t, path, testInfo, false,
		rec(0, ReturnCode(wire.ReturnCode_Success), 12345678*time.Nanosecond),
		rec(1, ReturnCode(wire.ReturnCode_Timeout), 2*time.Second),
	)
	want := ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size,start_time\n" +
		"0,0.012345678,1,0.0,2,100,10,20,1,1714564800.25\n" +
		"1,2.0,2,1.0,2,100,10,20,1,1714564800.25\n"
	assert.Equal(t, want, readFile(t, path))
	assert.Equal(t, []string{"queries.csv"}, dirNames(t, filepath.Dir(path)), "no lock or temporary file is left")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
}

func TestWriterEmptyRunWritesHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false)
	assert.Equal(t, Header+"\n", readFile(t, path))

	empty := filepath.Join(t.TempDir(), "queries.csv")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	writeHistory(t, empty, testInfo, false, rec(0, 1, time.Millisecond))
	rows, err := Read(empty)
	require.NoError(t, err, "an empty file starts a history")
	assert.Len(t, rows, 1)
}

func TestWriterAppendContinuesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond), rec(1, 1, time.Millisecond))
	other := RunInfo{NProcesses: 1, NCalls: 3, BatchSize: 1, BlockSize: 2, WorldSize: 1, Start: t0.Add(time.Hour)}
	w, err := Open(path, false)
	require.NoError(t, err)
	require.NoError(t, w.Append(other, rec(0, 2, time.Second)))
	require.NoError(t, w.Append(other, rec(1, 1, time.Second), rec(2, 1, time.Second)))
	require.NoError(t, w.Commit())

	rows, err := Read(path)
	require.NoError(t, err)
	require.Len(t, rows, 5)
	for i, r := range rows {
		assert.Equal(t, int64(i), r.Index)
	}
	assert.Equal(t, testInfo, rows[1].RunInfo, "old rows keep their run's settings")
	assert.Equal(t, other, rows[2].RunInfo)
	assert.Equal(t, other, rows[4].RunInfo)
}

func TestWriterContinuesPandasHistory(t *testing.T) {
	// As pandas' to_csv writes it: floats in repr form, an index that need
	// not start at 0.
	old := Header + "\n" +
		"7,0.0123,1,0.0123,1,10,10,20,1,1650000000.1234567\n" +
		"8,0.5,5,0.6,1,10,10,20,1,1650000000.1234567\n"
	path := filepath.Join(t.TempDir(), "queries.csv")
	require.NoError(t, os.WriteFile(path, []byte(old), 0o600))
	writeHistory(t, path, testInfo, false, rec(0, 1, 3*time.Millisecond))

	got := readFile(t, path)
	assert.Equal(t, old+"9,0.003,1,0.0,2,100,10,20,1,1714564800.25\n", got, "old bytes kept verbatim, index continues")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the history keeps its permissions")
}

func TestWriterRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queries.csv")
	require.NoError(t, os.WriteFile(path, []byte(Header+"\n0,1.0,1,1.0,2,100,10,20,1,5.0\n"), 0o640))
	before := readFile(t, path)

	w, err := Open(path, true)
	require.NoError(t, err)
	require.NoError(t, w.Append(testInfo, rec(5, 2, time.Second)))
	assert.Equal(t, before, readFile(t, path), "the old history stays until Commit")
	require.NoError(t, w.Commit())

	assert.Equal(t, Header+"\n0,1.0,2,5.0,2,100,10,20,1,1714564800.25\n", readFile(t, path))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "the new history keeps the old one's permissions")
	assert.Equal(t, []string{"queries.csv"}, dirNames(t, dir))
}

func TestWriterRestartReplacesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	require.NoError(t, os.WriteFile(path, []byte("hello\n"), 0o644))
	writeHistory(t, path, testInfo, true)
	assert.Equal(t, Header+"\n", readFile(t, path))
}

// formatCase is a file Open must refuse, untouched.
type formatCase struct {
	name    string
	content string
	line    int
	column  string
	reason  string
}

const okRow = "0,0.5,1,1.5,2,100,10,20,1,1714564800.25\n"

var refused = []formatCase{
	{"hello", "hello\n", 1, "", "not a query history"},
	{"hello without newline", "hello", 1, "", "not a query history"},
	{"other columns", "a,b,c\n1,2,3\n", 1, "", "not a query history"},
	{"named index", "index" + Header + "\n" + okRow, 1, "", "not a query history"},
	{"crlf", Header + "\r\n" + strings.ReplaceAll(okRow, "\n", "\r\n"), 1, "", "not a query history"},
	{"header without newline", Header, 1, "", "truncated"},
	{"last row cut at a comma", Header + "\n" + okRow + "1,0.5,1,1.5,2\n", 3, "", "want 10 comma-separated fields, got 5"},
	{"last row with extra field", Header + "\n" + okRow + strings.TrimSuffix(okRow, "\n") + ",7\n", 3, "", "got more"},
	{"blank last line", Header + "\n" + okRow + "\n", 3, "", "want 10 comma-separated fields, got 1"},
	{"bad code", Header + "\n" + strings.Replace(okRow, ",1,1.5", ",x,1.5", 1), 2, "code", "decimal integer"},
	{"negative time", Header + "\n" + strings.Replace(okRow, "0,0.5", "0,-0.5", 1), 2, "time", "number of seconds in [0,"},
	{"nan start", Header + "\n" + strings.Replace(okRow, "1714564800.25", "nan", 1), 2, "start_time", "number of seconds"},
	{"negative setting", Header + "\n" + strings.Replace(okRow, ",20,", ",-20,", 1), 2, "block_size", "decimal integer in [0,"},
	{"long last line", Header + "\n" + okRow + strings.Repeat("9", 5000) + "\n", 3, "", "longer than"},
	{"long last line without newline", Header + "\n" + okRow + strings.Repeat("9", 5000), 3, "", "longer than"},
	{"bad row in the middle", Header + "\n" + okRow + strings.Replace(okRow, "0.5", "zz", 1) + okRow, 3, "time", "number of seconds"},
	{"bad row before a torn one", Header + "\n" + okRow + "1,zz" + okRow[3:] + "2,0.", 3, "time", "number of seconds"},
}

func TestOpenRefusesMalformedFile(t *testing.T) {
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "queries.csv")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))

			w, err := Open(path, false)
			require.Error(t, err)
			assert.Nil(t, w)
			var ferr *FormatError
			require.ErrorAs(t, err, &ferr)
			assert.Equal(t, path, ferr.Path)
			assert.Equal(t, tt.line, ferr.Line)
			assert.Equal(t, tt.column, ferr.Column)
			assert.Contains(t, err.Error(), tt.reason)
			assert.NotErrorIs(t, err, ErrOldFormat)

			assert.Equal(t, tt.content, readFile(t, path), "the file is unchanged byte for byte")
			assert.Equal(t, []string{"queries.csv"}, dirNames(t, dir), "nothing is left beside it")
			_, err = Open(path, false)
			assert.ErrorAs(t, err, &ferr, "a malformed file is refused again: the refusal released the lock")
		})
	}
}

func TestOpenRefusesOldFormat(t *testing.T) {
	tests := []struct {
		name    string
		content string
		meaning string
	}{
		{
			name: "earlier minerbench",
			// time held the query's Unix send time, elapsed its latency.
			content: oldHeader + "\n0,1795640039.5489802,1,0.001045129,1,5,10,10,1\n1,1795640039.55,1,0.0009,1,5,10,10,1\n",
			meaning: "written by an earlier minerbench: its time column holds each query's Unix send time",
		},
		{
			name:    "QueryBenchmark",
			content: oldHeader + "\n0,0.0123,1,0.05,10,100,10,10,1\n",
			meaning: "Bittensor 2.0.4's QueryBenchmark columns, without start_time",
		},
		{
			name:    "header only",
			content: oldHeader + "\n",
			meaning: "Bittensor 2.0.4's QueryBenchmark columns, without start_time",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "queries.csv")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))

			_, err := Open(path, false)
			require.ErrorIs(t, err, ErrOldFormat)
			var ferr *FormatError
			require.ErrorAs(t, err, &ferr)
			assert.Equal(t, 1, ferr.Line)
			assert.Contains(t, err.Error(), tt.meaning)
			assert.Contains(t, err.Error(), "must not be appended here")
			assert.Equal(t, tt.content, readFile(t, path), "the old history is unchanged byte for byte")

			_, err = Read(path)
			assert.ErrorIs(t, err, ErrOldFormat, "a Reader refuses it too")

			writeHistory(t, path, testInfo, true, rec(0, 1, time.Millisecond))
			rows, err := Read(path)
			require.NoError(t, err, "a restart replaces it")
			assert.Len(t, rows, 1)
		})
	}
}

func TestOpenCutsTornLastRow(t *testing.T) {
	tests := []struct {
		name string
		body string // the whole rows before the torn one
		torn string
		next int64
	}{
		{"after rows", okRow + strings.Replace(okRow, "0,", "1,", 1), "2,0.25,1,3.", 2},
		{"first row", "", "0,0.25,1,3.5,2,100,10,20,1,17145", 0},
		{"a comma", okRow, ",", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "queries.csv")
			require.NoError(t, os.WriteFile(path, []byte(Header+"\n"+tt.body+tt.torn), 0o644))

			w, err := Open(path, false)
			require.NoError(t, err)
			assert.Equal(t, tt.torn, w.TornLine())
			assert.Equal(t, Header+"\n"+tt.body, readFile(t, path), "Open cut the torn row before appending")
			require.NoError(t, w.Append(testInfo, rec(0, 1, time.Millisecond)))
			require.NoError(t, w.Commit())

			rows, err := Read(path)
			require.NoError(t, err)
			assert.Equal(t, tt.next, rows[len(rows)-1].Index, "the new row continues after the whole ones")
		})
	}

	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond))
	w, err := Open(path, false)
	require.NoError(t, err)
	defer w.Abort()
	assert.Empty(t, w.TornLine(), "a whole history has none")
}

func TestOpenRefusesBadArguments(t *testing.T) {
	dir := t.TempDir()
	_, err := Open("", false)
	assert.ErrorContains(t, err, "path is empty")

	_, err = Open(dir, false)
	assert.ErrorContains(t, err, "want a regular file")

	w, err := Open(filepath.Join(dir, "queries.csv"), false)
	require.NoError(t, err)
	defer w.Abort()
	bad := testInfo
	bad.BatchSize = -1
	assert.EqualError(t, w.Append(bad, rec(0, 1, 0)), "history: RunInfo batch_size = -1: want zero or more")
	assert.EqualError(t, w.Append(testInfo, Record{Latency: -1}), "history: Record latency (column time) = -1ns: want zero or more")
	assert.EqualError(t, w.Append(testInfo, Record{Elapsed: -time.Second}), "history: Record elapsed = -1s: want zero or more")
	require.NoError(t, w.Commit())
	assert.Equal(t, Header+"\n", readFile(t, filepath.Join(dir, "queries.csv")), "a refused Append writes nothing")
}

func TestAbortLeavesHistoryUnchanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond))
	before := readFile(t, path)

	for _, restart := range []bool{false, true} {
		w, err := Open(path, restart)
		require.NoError(t, err)
		for i := range 100 {
			require.NoError(t, w.Append(testInfo, rec(i, 1, time.Second)))
		}
		w.Abort()
		w.Abort()
		assert.Equal(t, before, readFile(t, path), "restart %v", restart)
		assert.Equal(t, []string{"queries.csv"}, dirNames(t, dir))
		assert.ErrorIs(t, w.Commit(), ErrClosed)
		assert.ErrorIs(t, w.Append(testInfo, rec(0, 1, 0)), ErrClosed)
	}

	created := filepath.Join(dir, "new.csv")
	w, err := Open(created, false)
	require.NoError(t, err)
	require.NoError(t, w.Append(testInfo, rec(0, 1, 0)))
	w.Abort()
	assert.NoFileExists(t, created, "Abort removes the history Open created")
}

func TestCommitTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	w, err := Open(path, false)
	require.NoError(t, err)
	require.NoError(t, w.Append(testInfo, rec(0, 1, time.Millisecond)))
	require.NoError(t, w.Commit())
	assert.ErrorIs(t, w.Commit(), ErrClosed)
	w.Abort()
	rows, err := Read(path)
	require.NoError(t, err)
	assert.Len(t, rows, 1, "Abort after Commit keeps the history")
}

func TestLeftoversAreCleaned(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond))
	leftover := filepath.Join(dir, ".queries.csv.tmp-123")
	require.NoError(t, os.WriteFile(leftover, []byte(Header+"\n0,1,1,0."), 0o600))
	oldLock := filepath.Join(dir, "queries.csv.lock")
	require.NoError(t, os.WriteFile(oldLock, nil, 0o644))
	unrelated := filepath.Join(dir, ".other.csv.tmp-123")
	require.NoError(t, os.WriteFile(unrelated, nil, 0o600))
	notALock := filepath.Join(dir, "custom-queries.csv.lock")
	require.NoError(t, os.WriteFile(notALock, nil, 0o600))

	writeHistory(t, path, testInfo, false, rec(1, 1, time.Millisecond))
	rows, err := Read(path)
	require.NoError(t, err)
	assert.Len(t, rows, 2)
	assert.NoFileExists(t, leftover, "a crashed restart's temporary file is removed")
	assert.NoFileExists(t, oldLock, "the empty lock file of earlier versions is removed")
	assert.FileExists(t, unrelated, "only this history's files are removed")
	assert.FileExists(t, notALock, "only this history's files are removed")
}

func TestSecondWriterFailsWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	first, err := Open(path, false)
	require.NoError(t, err)
	require.NoError(t, first.Append(testInfo, rec(0, 1, time.Millisecond)))

	second, err := Open(path, false)
	require.ErrorIs(t, err, ErrLocked)
	assert.Nil(t, second)
	assert.ErrorContains(t, err, "being written by another run")
	_, err = Open(path, true)
	require.ErrorIs(t, err, ErrLocked, "restart takes the lock too")

	require.NoError(t, first.Commit())
	writeHistory(t, path, testInfo, false, rec(1, 1, time.Millisecond))
	rows, err := Read(path)
	require.NoError(t, err)
	assert.Len(t, rows, 2)
}

// TestOpenFollowsReplacedHistory replaces or removes the history between
// the two steps of Open's acquire: opening the file at the path and locking
// it (lockCurrent). The file opened first is then not the history, and
// lockCurrent must say so, or Open would write to a file no longer at the
// path.
func TestOpenFollowsReplacedHistory(t *testing.T) {
	t.Run("replaced by a restart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "queries.csv")
		writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond))
		stale, created, err := openOrCreate(path)
		require.NoError(t, err)
		require.False(t, created)
		defer stale.Close()

		writeHistory(t, path, testInfo, true, rec(7, 2, time.Second))
		current, err := lockCurrent(stale, path)
		require.NoError(t, err, "the restart released its lock")
		assert.False(t, current, "the file the restart replaced is not the history")
		stale.Close()

		writeHistory(t, path, testInfo, false, rec(8, 3, time.Second))
		rows, err := Read(path)
		require.NoError(t, err)
		require.Len(t, rows, 2, "the restart's row and the next run's")
		assert.Equal(t, []Code{2, 3}, []Code{rows[0].Code, rows[1].Code})
	})
	t.Run("removed by an Abort", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new.csv")
		creator, err := Open(path, false)
		require.NoError(t, err)
		stale, created, err := openOrCreate(path)
		require.NoError(t, err)
		require.False(t, created)
		defer stale.Close()

		creator.Abort()
		current, err := lockCurrent(stale, path)
		require.NoError(t, err)
		assert.False(t, current, "the file the Abort removed is not the history")
		stale.Close()

		writeHistory(t, path, testInfo, false, rec(0, 1, time.Second))
		rows, err := Read(path)
		require.NoError(t, err, "the next run made the history anew")
		assert.Len(t, rows, 1)
	})
	t.Run("current", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "queries.csv")
		f, _, err := openOrCreate(path)
		require.NoError(t, err)
		defer f.Close()
		current, err := lockCurrent(f, path)
		require.NoError(t, err)
		assert.True(t, current)

		other, _, err := openOrCreate(path)
		require.NoError(t, err)
		defer other.Close()
		_, err = lockCurrent(other, path)
		assert.ErrorIs(t, err, ErrLocked)
	})
}

// failingFile is a history file on a disk that fills after room more bytes:
// the write that crosses it writes what fits and fails with ENOSPC, as a
// real one does.
type failingFile struct {
	*os.File
	room     int64
	syncErr  error
	truncErr error
}

func (f *failingFile) WriteAt(b []byte, off int64) (int, error) {
	if int64(len(b)) <= f.room {
		f.room -= int64(len(b))
		return f.File.WriteAt(b, off)
	}
	n, err := f.File.WriteAt(b[:f.room], off)
	f.room -= int64(n)
	if err == nil {
		err = &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return n, err
}

func (f *failingFile) Sync() error {
	if f.syncErr != nil {
		return f.syncErr
	}
	return f.File.Sync()
}

func (f *failingFile) Truncate(size int64) error {
	if f.truncErr != nil {
		return f.truncErr
	}
	return f.File.Truncate(size)
}

// TestWriteFailureKeepsHistory fills the disk in the middle of an Append:
// the error comes back from that Append, the part of the write that reached
// the file is removed at once, every later call returns the error without
// writing, and Commit leaves the history as it was.
func TestWriteFailureKeepsHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond), rec(1, 1, time.Millisecond))
	before := readFile(t, path)

	w, err := Open(path, false)
	require.NoError(t, err)
	defer w.Abort()
	w.f = &failingFile{File: w.lock, room: 100}
	require.NoError(t, w.Append(testInfo, rec(2, 1, time.Millisecond)), "one row fits")
	err = w.Append(testInfo, rec(3, 1, time.Millisecond), rec(4, 1, time.Millisecond))
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Contains(t, err.Error(), "history: write "+path)
	rows, rerr := Read(path)
	require.NoError(t, rerr, "the partial row was removed at once")
	assert.Len(t, rows, 3)

	assert.Equal(t, err, w.Append(testInfo, rec(5, 1, 0)), "the error sticks")
	assert.ErrorIs(t, w.Commit(), syscall.ENOSPC)
	assert.Equal(t, before, readFile(t, path), "the history is as Open found it")
	writeHistory(t, path, testInfo, false, rec(9, 1, time.Millisecond))
	rows, err = Read(path)
	require.NoError(t, err, "the lock was released")
	assert.Equal(t, int64(2), rows[2].Index)
}

// TestFailedSyncKeepsHistory fails Commit's sync: the rows are removed.
func TestFailedSyncKeepsHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond))
	before := readFile(t, path)
	w, err := Open(path, false)
	require.NoError(t, err)
	w.f = &failingFile{File: w.lock, room: 1 << 20, syncErr: syscall.EIO}
	require.NoError(t, w.Append(testInfo, rec(1, 1, time.Millisecond)))
	assert.ErrorIs(t, w.Commit(), syscall.EIO)
	assert.Equal(t, before, readFile(t, path))
}

// TestFailedCleanupIsReported fails the removal of a partial write too: the
// error says so, and the next Open cuts the partial row.
func TestFailedCleanupIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond))
	w, err := Open(path, false)
	require.NoError(t, err)
	w.f = &failingFile{File: w.lock, room: 10, truncErr: syscall.EIO}
	err = w.Append(testInfo, rec(1, 1, time.Millisecond))
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.ErrorContains(t, err, "removing the partial write: input/output error")
	w.lock.Close() // as if the process died here

	next, err := Open(path, false)
	require.NoError(t, err)
	assert.Equal(t, "1,0.001,1,", next.TornLine())
	next.Abort()
	rows, err := Read(path)
	require.NoError(t, err)
	assert.Len(t, rows, 1)
}

// The crash helper: a child process that appends to the history named by
// HISTORY_CRASH_PATH in several writes, reports "ready" and waits to be
// killed.
func TestMain(m *testing.M) {
	if path := os.Getenv("HISTORY_CRASH_PATH"); path != "" {
		os.Exit(crashHelper(path))
	}
	os.Exit(m.Run())
}

func crashHelper(path string) int {
	w, err := Open(path, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	recs := make([]Record, 1000)
	for i := range recs {
		recs[i] = rec(i, ReturnCode(wire.ReturnCode_Timeout), time.Second)
	}
	for range 20 {
		if err := w.Append(testInfo, recs...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("ready")
	select {} // until killed
}

// TestCrashLeavesWholeRows kills a writer after its appends: the history
// holds the old rows and its rows, all whole, and the next run continues
// after them.
func TestCrashLeavesWholeRows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond), rec(1, 1, time.Millisecond))
	before := readFile(t, path)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HISTORY_CRASH_PATH="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)

	_, err = Open(path, false)
	require.ErrorIs(t, err, ErrLocked, "the lock holds across processes")

	require.NoError(t, cmd.Process.Kill())
	killed = true
	require.Error(t, cmd.Wait(), "the helper died by the signal")

	after := readFile(t, path)
	assert.True(t, strings.HasPrefix(after, before), "the old rows are untouched")
	rows, err := Read(path)
	require.NoError(t, err, "every row is whole")
	assert.Len(t, rows, 2+20000)

	writeHistory(t, path, testInfo, false, rec(2, 1, time.Millisecond))
	rows, err = Read(path)
	require.NoError(t, err)
	assert.Equal(t, int64(20002), rows[len(rows)-1].Index)
	assert.Equal(t, []string{"queries.csv"}, dirNames(t, dir))
}

func TestWriterConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	w, err := Open(path, false)
	require.NoError(t, err)
	defer w.Abort()
	const workers, each = 4, 500
	errs := make(chan error, workers)
	for g := range workers {
		go func() {
			for i := range each {
				if err := w.Append(testInfo, rec(i, Code(g), time.Duration(g+1)*time.Millisecond)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
	require.NoError(t, w.Commit())

	rows, err := Read(path)
	require.NoError(t, err, "every row was written whole")
	require.Len(t, rows, workers*each)
	perWorker := make(map[Code]int)
	for i, r := range rows {
		assert.Equal(t, int64(i), r.Index)
		assert.Equal(t, time.Duration(r.Code+1)*time.Millisecond, r.Latency, "row %d is not mixed with another", i)
		perWorker[r.Code]++
	}
	assert.Equal(t, map[Code]int{0: each, 1: each, 2: each, 3: each}, perWorker)
}
