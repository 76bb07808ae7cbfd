package history

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testInfo = RunInfo{NProcesses: 2, NCalls: 100, BatchSize: 10, BlockSize: 20, WorldSize: 1}

// t0 is a fixed query time with a fraction that float seconds carry exactly
// to the microsecond.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 250_000_000, time.UTC)

func rec(i int, code wire.ReturnCode, elapsed time.Duration) Record {
	return Record{Time: t0.Add(time.Duration(i) * time.Second), Code: code, Elapsed: elapsed}
}

// writeHistory commits records to path in one run.
func writeHistory(t *testing.T, path string, info RunInfo, restart bool, recs ...Record) {
	t.Helper()
	w, err := Open(path, info, restart)
	require.NoError(t, err)
	defer w.Abort()
	for _, r := range recs {
		require.NoError(t, w.Append(r))
	}
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
		rec(0, wire.ReturnCode_Success, 12345678*time.Nanosecond),
		rec(1, wire.ReturnCode_Timeout, 2*time.Second),
	)
	want := ",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size\n" +
		"0,1714564800.25,1,0.012345678,2,100,10,20,1\n" +
		"1,1714564801.25,2,2.0,2,100,10,20,1\n"
	assert.Equal(t, want, readFile(t, path))
	assert.Equal(t, []string{"queries.csv", "queries.csv.lock"}, dirNames(t, filepath.Dir(path)),
		"no temporary file is left after Commit")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
}

func TestWriterEmptyRunWritesHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false)
	assert.Equal(t, Header+"\n", readFile(t, path))
}

func TestWriterAppendContinuesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond), rec(1, 1, time.Millisecond))
	other := RunInfo{NProcesses: 1, NCalls: 3, BatchSize: 1, BlockSize: 2, WorldSize: 1}
	writeHistory(t, path, other, false, rec(2, 2, time.Second), rec(3, 1, time.Second), rec(4, 1, time.Second))

	rows, err := Read(path)
	require.NoError(t, err)
	require.Len(t, rows, 5)
	for i, r := range rows {
		assert.Equal(t, int64(i), r.Index)
	}
	assert.Equal(t, testInfo, rows[1].RunInfo, "old rows keep their run's settings")
	assert.Equal(t, other, rows[2].RunInfo)
}

func TestWriterContinuesPandasHistory(t *testing.T) {
	// As pandas' to_csv wrote the original's history: float seconds from
	// time.time() and an index that need not start at 0.
	old := Header + "\n" +
		"7,1650000000.1234567,1,0.0123,1,10,10,20,1\n" +
		"8,1650000001.0,5,0.5,1,10,10,20,1\n"
	path := filepath.Join(t.TempDir(), "queries.csv")
	require.NoError(t, os.WriteFile(path, []byte(old), 0o600))
	writeHistory(t, path, testInfo, false, rec(0, 1, 3*time.Millisecond))

	got := readFile(t, path)
	assert.Equal(t, old+"9,1714564800.25,1,0.003,2,100,10,20,1\n", got, "old bytes kept verbatim, index continues")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the history keeps its permissions")
}

func TestWriterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond), rec(1, 1, time.Millisecond))
	before := readFile(t, path)

	w, err := Open(path, testInfo, true)
	require.NoError(t, err)
	require.NoError(t, w.Append(rec(5, 2, time.Second)))
	assert.Equal(t, before, readFile(t, path), "the old history stays until Commit")
	require.NoError(t, w.Commit())

	assert.Equal(t, Header+"\n0,1714564805.25,2,1.0,2,100,10,20,1\n", readFile(t, path))
}

func TestWriterRestartReplacesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	require.NoError(t, os.WriteFile(path, []byte("hello\n"), 0o644))
	writeHistory(t, path, testInfo, true)
	assert.Equal(t, Header+"\n", readFile(t, path))
}

func TestOpenRefusesForeignFile(t *testing.T) {
	row := "0,1714564800.25,1,0.5,2,100,10,20,1\n"
	tests := []struct {
		name    string
		content string
		line    int
		column  string
		reason  string
	}{
		{"empty", "", 0, "", "empty file"},
		{"hello", "hello\n", 1, "", "not a query history"},
		{"other columns", "a,b,c\n1,2,3\n", 1, "", "not a query history"},
		{"named index", "index" + Header + "\n" + row, 1, "", "not a query history"},
		{"crlf", Header + "\r\n" + strings.ReplaceAll(row, "\n", "\r\n"), 1, "", "not a query history"},
		{"header without newline", Header, 1, "", "truncated"},
		{"truncated last row", Header + "\n" + row + "1,1714564801.25,1,0.", 3, "", "truncated"},
		{"last row cut at a comma", Header + "\n" + row + "1,1714564801.25,1,0.5,2\n", 3, "", "want 9 comma-separated fields, got 5"},
		{"last row with extra field", Header + "\n" + row + strings.TrimSuffix(row, "\n") + ",7\n", 3, "", "got more"},
		{"blank last line", Header + "\n" + row + "\n", 3, "", "want 9 comma-separated fields, got 1"},
		{"bad code", Header + "\n" + strings.Replace(row, ",1,0.5", ",x,0.5", 1), 2, "code", "decimal integer"},
		{"bad elapsed", Header + "\n" + strings.Replace(row, "0.5", "-0.5", 1), 2, "elapsed", "number of seconds in [0,"},
		{"nan time", Header + "\n" + strings.Replace(row, "1714564800.25", "nan", 1), 2, "time", "number of seconds"},
		{"negative setting", Header + "\n" + strings.Replace(row, ",20,", ",-20,", 1), 2, "block_size", "decimal integer in [0,"},
		{"long last line", Header + "\n" + row + strings.Repeat("9", 5000) + "\n", 3, "", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "queries.csv")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))

			w, err := Open(path, testInfo, false)
			require.Error(t, err)
			assert.Nil(t, w)
			var ferr *FormatError
			require.ErrorAs(t, err, &ferr)
			assert.Equal(t, path, ferr.Path)
			assert.Equal(t, tt.line, ferr.Line)
			assert.Equal(t, tt.column, ferr.Column)
			assert.Contains(t, err.Error(), tt.reason)

			assert.Equal(t, tt.content, readFile(t, path), "the file is unchanged byte for byte")
			assert.Equal(t, []string{"queries.csv", "queries.csv.lock"}, dirNames(t, dir), "no temporary file is left")
			w, err = Open(path, testInfo, false)
			if w != nil {
				w.Abort() // do not leave the lock held
			}
			assert.Nil(t, w, "a malformed file is refused again")
			assert.ErrorAs(t, err, &ferr, "the refusal released the lock")
		})
	}
}

func TestOpenRefusesBadArguments(t *testing.T) {
	dir := t.TempDir()
	_, err := Open("", testInfo, false)
	assert.ErrorContains(t, err, "path is empty")

	bad := testInfo
	bad.BatchSize = -1
	_, err = Open(filepath.Join(dir, "queries.csv"), bad, false)
	assert.EqualError(t, err, "history: RunInfo batch_size = -1: want zero or more")

	_, err = Open(dir, testInfo, false)
	assert.ErrorContains(t, err, "want a regular file")
}

func TestAbortLeavesHistoryUnchanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond))
	before := readFile(t, path)

	for _, restart := range []bool{false, true} {
		w, err := Open(path, testInfo, restart)
		require.NoError(t, err)
		for i := range 10000 { // more than the write buffer
			require.NoError(t, w.Append(rec(i, 1, time.Second)))
		}
		w.Abort()
		w.Abort()
		assert.Equal(t, before, readFile(t, path))
		assert.Equal(t, []string{"queries.csv", "queries.csv.lock"}, dirNames(t, dir))
		assert.ErrorIs(t, w.Commit(), ErrClosed)
		assert.ErrorIs(t, w.Append(rec(0, 1, 0)), ErrClosed)
	}
}

func TestCommitTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	w, err := Open(path, testInfo, false)
	require.NoError(t, err)
	require.NoError(t, w.Append(rec(0, 1, time.Millisecond)))
	require.NoError(t, w.Commit())
	assert.ErrorIs(t, w.Commit(), ErrClosed)
	w.Abort()
	rows, err := Read(path)
	require.NoError(t, err)
	assert.Len(t, rows, 1, "Abort after Commit keeps the history")
}

func TestLeftoverTempFileIsCleaned(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queries.csv")
	writeHistory(t, path, testInfo, false, rec(0, 1, time.Millisecond))
	leftover := filepath.Join(dir, ".queries.csv.tmp-123")
	require.NoError(t, os.WriteFile(leftover, []byte(Header+"\n0,1,1,0."), 0o600))
	unrelated := filepath.Join(dir, ".other.csv.tmp-123")
	require.NoError(t, os.WriteFile(unrelated, nil, 0o600))

	writeHistory(t, path, testInfo, false, rec(1, 1, time.Millisecond))
	rows, err := Read(path)
	require.NoError(t, err)
	assert.Len(t, rows, 2)
	assert.NoFileExists(t, leftover)
	assert.FileExists(t, unrelated, "only this history's temporary files are removed")
}

func TestSecondWriterFailsWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	first, err := Open(path, testInfo, false)
	require.NoError(t, err)
	require.NoError(t, first.Append(rec(0, 1, time.Millisecond)))

	second, err := Open(path, testInfo, false)
	require.ErrorIs(t, err, ErrLocked)
	assert.Nil(t, second)
	assert.ErrorContains(t, err, "being written by another run")
	_, err = Open(path, testInfo, true)
	require.ErrorIs(t, err, ErrLocked, "restart takes the lock too")

	require.NoError(t, first.Commit())
	writeHistory(t, path, testInfo, false, rec(1, 1, time.Millisecond))
	rows, err := Read(path)
	require.NoError(t, err)
	assert.Len(t, rows, 2)
}

func TestOpenWaitSerializesWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	first, err := Open(path, testInfo, false)
	require.NoError(t, err)

	type result struct {
		w   *Writer
		err error
	}
	done := make(chan result, 1)
	go func() {
		w, err := OpenWait(context.Background(), path, RunInfo{NProcesses: 9}, false)
		done <- result{w, err}
	}()
	for i := range 3 {
		require.NoError(t, first.Append(rec(i, 1, time.Millisecond)))
	}
	require.NoError(t, first.Commit())

	res := <-done
	require.NoError(t, res.err)
	for i := range 2 {
		require.NoError(t, res.w.Append(rec(10+i, 2, time.Second)))
	}
	require.NoError(t, res.w.Commit())

	// Had the second writer not waited, it would have copied the empty
	// history and its commit would have dropped the first one's rows.
	rows, err := Read(path)
	require.NoError(t, err)
	require.Len(t, rows, 5)
	for i, r := range rows {
		assert.Equal(t, int64(i), r.Index)
		assert.Equal(t, i >= 3, r.NProcesses == 9, "row %d comes from the right writer", i)
	}
}

func TestOpenWaitGivesUpWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	first, err := Open(path, testInfo, false)
	require.NoError(t, err)
	defer first.Abort()

	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("run interrupted")
	cancel(cause)
	_, err = OpenWait(ctx, path, testInfo, false)
	assert.ErrorIs(t, err, cause)
}

// The crash helper: a child process that opens the history named by
// HISTORY_CRASH_PATH, appends rows past its write buffer, reports "ready"
// and waits to be killed.
func TestMain(m *testing.M) {
	if path := os.Getenv("HISTORY_CRASH_PATH"); path != "" {
		os.Exit(crashHelper(path))
	}
	os.Exit(m.Run())
}

func crashHelper(path string) int {
	w, err := Open(path, testInfo, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := range 20000 {
		if err := w.Append(rec(i, wire.ReturnCode_Timeout, time.Second)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("ready")
	select {} // until killed
}

func TestCrashLeavesOldHistory(t *testing.T) {
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

	_, err = Open(path, testInfo, false)
	require.ErrorIs(t, err, ErrLocked, "the lock holds across processes")

	require.NoError(t, cmd.Process.Kill())
	killed = true
	require.Error(t, cmd.Wait(), "the helper died by the signal")

	assert.Equal(t, before, readFile(t, path), "the killed run left the history byte for byte")
	var leftovers int
	for _, name := range dirNames(t, dir) {
		if strings.HasPrefix(name, ".queries.csv.tmp-") {
			leftovers++
		}
	}
	assert.Equal(t, 1, leftovers, "the killed run left its partial copy")

	writeHistory(t, path, testInfo, false, rec(2, 1, time.Millisecond))
	rows, err := Read(path)
	require.NoError(t, err)
	require.Len(t, rows, 3, "the killed run's rows are not in the history")
	assert.Equal(t, int64(2), rows[2].Index)
	assert.Equal(t, []string{"queries.csv", "queries.csv.lock"}, dirNames(t, dir))
}

func TestWriterConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	w, err := Open(path, testInfo, false)
	require.NoError(t, err)
	defer w.Abort()
	const workers, each = 4, 500
	errs := make(chan error, workers)
	for g := range workers {
		go func() {
			for i := range each {
				if err := w.Append(rec(i, wire.ReturnCode(g), time.Duration(g+1)*time.Millisecond)); err != nil {
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
	perWorker := make(map[wire.ReturnCode]int)
	for i, r := range rows {
		assert.Equal(t, int64(i), r.Index)
		assert.Equal(t, time.Duration(r.Code+1)*time.Millisecond, r.Elapsed, "row %d is not mixed with another", i)
		perWorker[r.Code]++
	}
	assert.Equal(t, map[wire.ReturnCode]int{0: each, 1: each, 2: each, 3: each}, perWorker)
}
