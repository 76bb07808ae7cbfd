package history

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	recs := []Record{
		{Time: t0, Code: wire.ReturnCode_Success, Elapsed: 1},
		{Time: t0.Add(123456789 * time.Microsecond), Code: wire.ReturnCode_Timeout, Elapsed: 987654321},
		{Time: time.Unix(0, 0), Code: wire.ReturnCode_Unauthenticated, Elapsed: 0},
		{Time: time.Unix(-5, 500), Code: wire.ReturnCode(-7), Elapsed: 3*time.Hour + 17},
		{Time: t0, Code: wire.ReturnCode(1000), Elapsed: 90 * 24 * time.Hour},
	}
	writeHistory(t, path, testInfo, false, recs...)

	rows, err := Read(path)
	require.NoError(t, err)
	require.Len(t, rows, len(recs))
	for i, r := range rows {
		assert.Equal(t, int64(i), r.Index)
		assert.Equal(t, testInfo, r.RunInfo)
		assert.Equal(t, recs[i].Code, r.Code)
		assert.Equal(t, recs[i].Elapsed, r.Elapsed, "elapsed round-trips to the nanosecond")
		// Float Unix seconds carry about a quarter of a microsecond today.
		assert.WithinDuration(t, recs[i].Time, r.Time, time.Microsecond)
	}
	assert.True(t, rows[0].Time.Equal(t0), "a time with a binary fraction is exact")
}

func TestReadErrors(t *testing.T) {
	row := "0,1714564800.25,1,0.5,2,100,10,20,1\n"
	tests := []struct {
		name    string
		content string
		line    int
		column  string
		msg     string
	}{
		{"empty", "", 0, "", `history: f.csv: "": empty file: want the header`},
		{"foreign", "hello\n", 1, "", `history: f.csv:1: "hello": not a query history`},
		{"truncated", Header + "\n" + row + "1,2", 3, "", `history: f.csv:3: "1,2": last line does not end in a newline`},
		{"bad index", Header + "\n" + row + "x" + row[1:], 3, "index", `history: f.csv:3: column index: value "x": want a decimal integer`},
		{"code too large", Header + "\n" + strings.Replace(row, ",1,0.5", ",2147483648,0.5", 1), 2, "code", "want a decimal integer in [-2147483648, 2147483647]"},
		{"float code", Header + "\n" + strings.Replace(row, ",1,0.5", ",1.0,0.5", 1), 2, "code", `value "1.0"`},
		{"too few", Header + "\n" + "0,1,1\n", 2, "", "want 9 comma-separated fields, got 3"},
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
	content := Header + "\n" + "0,1.5,1,0.25,1,2,3,4,5\n" + "1,2.5,2,0.75,1,2,3,4,5\n"
	r := NewReader(strings.NewReader(content), "f.csv")
	row, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, Row{
		Index:   0,
		Record:  Record{Time: time.Unix(1, 500_000_000), Code: 1, Elapsed: 250 * time.Millisecond},
		RunInfo: RunInfo{1, 2, 3, 4, 5},
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
