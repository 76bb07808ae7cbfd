package history

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

func TestReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	recs := []Record{
		{Latency: 1, Code: ReturnCode(wire.ReturnCode_Success), Elapsed: 1},
		{Latency: 987654321, Code: ReturnCode(wire.ReturnCode_Timeout), Elapsed: 123456789 * time.Microsecond},
		{Latency: 0, Code: ReturnCode(wire.ReturnCode_Unauthenticated), Elapsed: 0},
		{Latency: 3*time.Hour + 17, Code: Code(-7), Elapsed: 90 * 24 * time.Hour},
		{Latency: 90 * 24 * time.Hour, Code: Code(1000), Elapsed: 3*time.Hour + 17},
	}
	infos := []RunInfo{testInfo, {Start: time.Unix(0, 0).UTC()}, {NProcesses: 3, Start: time.Unix(-5, 500).UTC()}, {WorldSize: 7, Start: t0.Add(123456789 * time.Microsecond)}}
	for _, info := range infos {
		writeHistory(t, path, info, false, recs...)
	}

	rows, err := Read(path)
	require.NoError(t, err)
	require.Len(t, rows, len(recs)*len(infos))
	for i, r := range rows {
		info := infos[i/len(recs)]
		assert.Equal(t, int64(i), r.Index)
		assert.Equal(t, recs[i%len(recs)], r.Record, "durations round-trip to the nanosecond")
		assert.Equal(t, info.settings(), r.settings())
		// Float Unix seconds carry about a quarter of a microsecond today.
		assert.WithinDuration(t, info.Start, r.Start, time.Microsecond)
	}
	assert.True(t, rows[0].Start.Equal(t0), "a start with a binary fraction is exact")
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		line    int
		column  string
		msg     string
	}{
		{"empty", "", 0, "", `history: f.csv: "": empty file: want the header`},
		{"foreign", "hello\n", 1, "", `history: f.csv:1: "hello": not a query history`},
		{"old", oldHeader + "\n", 1, "", `history: f.csv:1: "` + oldHeader + `": Bittensor 2.0.4's QueryBenchmark columns, without start_time`},
		{"truncated", Header + "\n" + okRow + "1,2", 3, "", `history: f.csv:3: "1,2": last line does not end in a newline`},
		{"bad index", Header + "\n" + okRow + "x" + okRow[1:], 3, "index", `history: f.csv:3: column index: value "x": want a decimal integer`},
		{"code too large", Header + "\n" + strings.Replace(okRow, ",1,1.5", ",2147483648,1.5", 1), 2, "code", "want a decimal integer in [-2147483648, 2147483647]"},
		{"float code", Header + "\n" + strings.Replace(okRow, ",1,1.5", ",1.0,1.5", 1), 2, "code", `value "1.0"`},
		{"negative elapsed", Header + "\n" + strings.Replace(okRow, ",1.5,", ",-1.5,", 1), 2, "elapsed", `value "-1.5"`},
		{"too few", Header + "\n" + "0,1,1\n", 2, "", "want 10 comma-separated fields, got 3"},
		{"nine fields", Header + "\n" + "0,0.5,1,1.5,2,100,10,20,1\n", 2, "", "want 10 comma-separated fields, got 9"},
		{"long line", Header + "\n" + strings.Repeat("x", 5000) + "\n", 2, "", "longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.content), "f.csv")
			var err error
			for err == nil {
				_, err = r.Next()
			}
			var ferr *FormatError
			require.ErrorAs(t, err, &ferr)
			assert.Equal(t, tt.line, ferr.Line)
			assert.Equal(t, tt.column, ferr.Column)
			assert.Contains(t, err.Error(), tt.msg)
			_, again := r.Next()
			assert.Equal(t, err, again, "the error sticks")
		})
	}
}

func TestReaderStreams(t *testing.T) {
	content := Header + "\n" + "0,0.25,1,1.5,1,2,3,4,5,10.5\n" + "1,0.75,2,2.5,1,2,3,4,5,10.5\n"
	r := NewReader(strings.NewReader(content), "f.csv")
	row, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, Row{
		Index:   0,
		Record:  Record{Latency: 250 * time.Millisecond, Code: 1, Elapsed: 1500 * time.Millisecond},
		RunInfo: RunInfo{1, 2, 3, 4, 5, time.Unix(10, 500_000_000).UTC()},
	}, row)
	_, err = r.Next()
	require.NoError(t, err)
	_, err = r.Next()
	assert.Equal(t, io.EOF, err)

	r = NewReader(strings.NewReader(Header+"\n"), "f.csv")
	_, err = r.Next()
	assert.Equal(t, io.EOF, err, "a header alone is an empty history")
}

func TestReadMissingFile(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), "none.csv"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestNextAllocatesNothing checks that Next parses a row where it lies in
// the Reader's buffer, without copying it: a million-row history is read
// without a million allocations.
func TestNextAllocatesNothing(t *testing.T) {
	r := NewReader(strings.NewReader(Header+"\n"+strings.Repeat(okRow, 1000)), "f.csv")
	_, err := r.Next() // reads the header and fills the buffer
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(500, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
