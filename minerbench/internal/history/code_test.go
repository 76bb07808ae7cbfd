package history

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

func TestCode(t *testing.T) {
	tests := []struct {
		code    Code
		name    string
		http    bool
		success bool
	}{
		{ReturnCode(wire.ReturnCode_Success), "Success", false, true},
		{ReturnCode(wire.ReturnCode_Timeout), "Timeout", false, false},
		{ReturnCode(wire.ReturnCode_NoReturn), "NoReturn", false, false},
		{StatusOK, "HTTP 200 OK", true, true},
		{401, "HTTP 401 Unauthorized", true, false},
		{408, "HTTP 408 Request Timeout", true, false},
		{503, "HTTP 503 Service Unavailable", true, false},
		{599, "HTTP 599", true, false},
		{1000, "1000", false, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.name, tt.code.String(), "%d", tt.code)
		assert.Equal(t, tt.http, tt.code.IsHTTP(), "%d", tt.code)
		assert.Equal(t, tt.success, tt.code.Success(), "%d", tt.code)
	}
}

// TestEmptyBatchColumns: a run without token batches (a synapse run)
// leaves batch_size and block_size empty, and they read back as zero.
func TestEmptyBatchColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	info := RunInfo{NProcesses: 4, NCalls: 10, WorldSize: 1, Start: t0}
	writeHistory(t, path, info, false, Record{Latency: time.Millisecond, Code: StatusOK, Elapsed: time.Second})
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, "0,0.001,200,1.0,4,10,,,1,1714564800.25", lines[1])

	rows, err := Read(path)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, info, rows[0].RunInfo)
	assert.Equal(t, StatusOK, rows[0].Code)
}

// TestEmptyColumnOnlyWhereAllowed: only batch_size and block_size may be
// empty; an empty n_calls is refused with the column named.
func TestEmptyColumnOnlyWhereAllowed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queries.csv")
	require.NoError(t, os.WriteFile(path, []byte(Header+"\n0,0.001,200,1.0,4,,,,1,1714564800.25\n"), 0o644))
	_, err := Read(path)
	var fe *FormatError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "n_calls", fe.Column)
}
