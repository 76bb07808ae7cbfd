package httpdendrite

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/pythontest"
)

// pyCheck is what testdata/axon.py reports of one request.
type pyCheck struct {
	Signed    *string
	Signature string
	Problems  []string
}

// TestInteropPython queries an aiohttp axon written in Python, which
// checks the headers, recomputes the body hash with hashlib and Python's
// own str(), checks the input objects and the nonces, and rebuilds the
// signed string from the headers; the signature over that string is
// verified here, as Debian's Python has no sr25519.
func TestInteropPython(t *testing.T) {
	python := pythontest.Find(t, "aiohttp", "python3-aiohttp")
	hashFields := []string{"text", "n", "x", "xs", "d", "ok"}
	required := []string{"text", "n", "x", "xs", "d", "ok"}
	cmd := exec.Command(python, filepath.Join("testdata", "axon.py"), miner.SS58(), strings.Join(hashFields, ","), strings.Join(required, ","))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan(), "the axon's port")
	port, err := strconv.Atoi(lines.Text())
	require.NoError(t, err, lines.Text())

	body := `{"text": "h\u00e9llo 'q' \"dq\"", "n": -12, "x": 1e-05, "xs": [1.5, "it's", null, true, 100000000000000000.0], ` +
		`"d": {"k": "v", "nested": {"z": [1, 2]}}, "ok": false, "free": "not hashed"}`
	c := newTestClient(t, "http://127.0.0.1:"+strconv.Itoa(port), func(cfg *Config) {
		cfg.Synapse = "Interop"
		cfg.Body = []byte(body)
		cfg.HashFields = hashFields
		cfg.Required = required
	})
	for i := range 5 {
		r := c.Query(context.Background())
		require.True(t, lines.Scan(), "the axon's report of query %d", i)
		var got pyCheck
		require.NoError(t, json.Unmarshal(lines.Bytes(), &got), lines.Text())
		require.Empty(t, got.Problems, "query %d", i)
		require.True(t, r.Success(), "query %d: %d %s", i, r.Code, r.Message)
		require.NotNil(t, got.Signed)
		sig, err := hex.DecodeString(strings.TrimPrefix(got.Signature, "0x"))
		require.NoError(t, err)
		assert.True(t, validator.Public().Verify([]byte(*got.Signed), sig), "the signature over the string Python rebuilt")
	}
}
