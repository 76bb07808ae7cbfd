package httpaxon

import (
	"bufio"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/pythontest"
	"github.com/minerbench/minerbench/minerbench/internal/synapse"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// pyCall is what the Python dendrite saw of one call.
type pyCall struct {
	Status      int
	JSON        map[string]any
	Headers     map[string]string
	HeaderNames []string `json:"header_names"`
	Axon        map[string]string
}

// TestPythonDendrite has a Python client on aiohttp, not this repository's
// code, build an Echo request by the protocol's rules (its body hash with
// hashlib.sha3_256 over Python's str(), a non-ASCII text), sign it through
// the project's wallet, and call the axon: 200 with the text upper-cased,
// the headers found as bittensor's dendrite finds them (case-sensitively),
// then 401 for the replay.
func TestPythonDendrite(t *testing.T) {
	python := pythontest.Find(t, "aiohttp", "python3-aiohttp")
	s := serve(t, Config{})
	host, port, err := net.SplitHostPort(s.addr)
	require.NoError(t, err)
	key := wallet.Mock("python dendrite")
	cmd := exec.CommandContext(t.Context(), python, "testdata/dendrite.py", host, port, s.key.SS58(), key.SS58())
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	out := bufio.NewReader(stdout)

	msg, err := out.ReadString('\n')
	require.NoError(t, err, "stderr: %s", &stderr)
	sig, err := synapse.AppendSignature(nil, key, []byte(strings.TrimSuffix(msg, "\n")))
	require.NoError(t, err)
	_, err = stdin.Write(append(sig, '\n'))
	require.NoError(t, err)
	var got struct {
		Text          string
		First, Replay pyCall
		ExpectedHash  string `json:"expected_hash"`
	}
	require.NoError(t, json.NewDecoder(out).Decode(&got), "stderr: %s", &stderr)
	require.NoError(t, cmd.Wait(), "stderr: %s", &stderr)

	first := got.First
	require.Equal(t, 200, first.Status, "%v", first.JSON)
	assert.Equal(t, strings.ToUpper(got.Text), first.JSON["text"])
	assert.Contains(t, first.HeaderNames, "bt_header_axon_status_code")
	assert.Equal(t, "200", first.Axon["status_code"])
	assert.Equal(t, "Success", first.Axon["status_message"])
	assert.Contains(t, first.Axon, "process_time")
	assert.Equal(t, got.ExpectedHash, first.Headers["computed_body_hash"], "the answer's body hash, as Python computes it")
	assert.Equal(t, s.key.SS58(), first.JSON["axon"].(map[string]any)["hotkey"])

	assert.Equal(t, 401, got.Replay.Status)
	assert.Equal(t, "Not Verified with error: Nonce is too old, a newer one was last processed", got.Replay.JSON["message"])
	assert.Equal(t, "401", got.Replay.Axon["status_code"])
}
