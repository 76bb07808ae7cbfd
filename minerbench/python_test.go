//go:build unix

package minerbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/wallet"
)

// pythonMinerPath is the miner written in Python, from this package.
const pythonMinerPath = "../miners/python/miner.py"

// pythonModules are the modules the Python miner imports besides the
// standard library and its own.
const pythonModules = "grpc, msgpack, google.protobuf, cryptography"

// TestPythonMiner benchmarks the Python miner through a real bench file
// (testdata/python), as any plugin binary: it completes go-plugin's
// handshake with mutual TLS, registers its axon on the chain under the
// hotkey the Go wallet derives for it, answers every query, and is stopped
// and reaped when the run ends.
func TestPythonMiner(t *testing.T) {
	bin := buildBenchFile(t, "python")
	miner, _ := pythonMiner(t)
	const calls = 20
	r := newLifeRun(t)
	r.start(t, bin, fmt.Sprintf("%dx", calls), []string{"-mb.debug"}, "MINERBENCH_PYTHON_MINER="+miner)
	r.waitEnd(t)
	stdout, stderr := r.stdout.String(), r.stderr.String()
	require.Equal(t, 0, r.cmd.ProcessState.ExitCode(), "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	results := benchResults(t, stdout)
	const name = "Python/miner=python/batch=2/block=4/conc=1"
	require.Contains(t, results, name, "stdout:\n%s", stdout)
	assert.Equal(t, calls, results[name].Iters)
	assert.Equal(t, 100.0, metric(results[name], "success-%"))

	rows := readRows(t, r.results, "python")
	require.Len(t, rows, calls)
	assert.Equal(t, slices.Repeat([]wire.ReturnCode{wire.ReturnCode_Success}, calls), codesOf(rows))
	start := rows[0].Start
	assert.False(t, start.IsZero(), "start_time is set")
	for i, row := range rows {
		assert.Equal(t, int64(i), row.Index)
		assert.Equal(t, history.RunInfo{NProcesses: 1, NCalls: calls, BatchSize: 2, BlockSize: 4, WorldSize: 1, Start: start}, row.RunInfo)
	}

	// The host found the axon on the chain under the hotkey the miner
	// announced, which must be the one the Go runtime derives for the mock
	// wallet the host names (wallet.name=default, wallet.hotkey=python).
	assert.Contains(t, stderr, "python: axon serving: hotkey="+wallet.Mock("default/python").SS58()+" endpoint=127.0.0.1:")
	assert.Contains(t, stderr, "python: axon registered: chain=127.0.0.1:")
	m := regexp.MustCompile(`python: plugin serving on 127\.0\.0\.1:\d+ \(pid (\d+)\)\n`).FindStringSubmatch(stderr)
	require.NotNil(t, m, "the miner logs its pid; stderr:\n%s", stderr)
	pid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "python miner pid %d was not stopped and reaped", pid)
}

// TestPythonMinerSettings checks the Python miner's reading of the host's
// settings: the hotkey and coldkey it derives are the Go wallet's, and a bad
// setting is refused naming it.
func TestPythonMinerSettings(t *testing.T) {
	miner, python := pythonMiner(t)
	seed := "0x" + strings.Repeat("5a", wallet.SeedSize)
	seeded, err := wallet.FromHexSeed(seed)
	require.NoError(t, err)
	tests := []struct {
		settings map[string]string
		want     string // hotkey and coldkey, or the error
	}{
		{map[string]string{}, wallet.Mock("default/default").SS58() + " " + wallet.Mock("default").SS58()},
		{map[string]string{"wallet.name": "mock", "wallet.hotkey": "python"}, wallet.Mock("mock/python").SS58() + " " + wallet.Mock("mock").SS58()},
		{map[string]string{"wallet.name": "mock", "wallet.seed": seed}, seeded.SS58() + " " + wallet.Mock("mock").SS58()},
		{map[string]string{"wallet.seed": "0x12"}, `setting wallet.seed: want "0x" followed by 64 hex digits (a 32-byte mini secret key)`},
		{map[string]string{"wallet.seed": "0x" + strings.Repeat("zz", wallet.SeedSize)}, `setting wallet.seed: want "0x" followed by 64 hex digits (a 32-byte mini secret key)`},
		{map[string]string{"wallet.hotkey": ""}, `settings wallet.name='default' wallet.hotkey='': want non-empty wallet and hotkey names`},
		{map[string]string{"axon.ip": "localhost"}, `setting axon.ip='localhost': want an IP address such as 127.0.0.1`},
		{map[string]string{"axon.port": "65536"}, `setting axon.port='65536': want an integer from 0 to 65535`},
		{map[string]string{"nucleus.nhid": "600"}, `unknown setting 'nucleus.nhid'; known settings: axon.ip, axon.port, subtensor.chain_endpoint, subtensor.network, wallet.hotkey, wallet.name, wallet.seed`},
	}
	cases := make([]map[string]string, len(tests))
	for i, tt := range tests {
		cases[i] = tt.settings
	}
	in, err := json.Marshal(cases)
	require.NoError(t, err)
	const script = `
import json, sys, miner
for overrides in json.loads(sys.argv[1]):
    try:
        s = miner.settings(overrides)
        print(s["hotkey"], s["coldkey"])
    except ValueError as e:
        print(e)
`
	cmd := exec.Command(python[0], append(python[1:], "-c", script, string(in))...)
	cmd.Dir = filepath.Dir(miner)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, lines, len(tests), "output:\n%s", out)
	for i, tt := range tests {
		assert.Equal(t, tt.want, lines[i], "settings %v", tt.settings)
	}
}

// TestPythonMinerHandshake checks the Python miner's side of go-plugin's
// handshake without a host: it refuses to run without the magic cookie, and
// with it (and no client certificate, so without TLS) it prints the
// handshake line, serves the health service go-plugin asks, and exits when
// go-plugin's GRPCController asks it to shut down.
func TestPythonMinerHandshake(t *testing.T) {
	miner, _ := pythonMiner(t)
	out, err := exec.Command(miner).CombinedOutput()
	require.ErrorAs(t, err, new(*exec.ExitError))
	assert.Equal(t, 1, err.(*exec.ExitError).ExitCode())
	assert.Contains(t, string(out), "miner.py is a minerbench miner plugin: name it in a bench file's MinerSpec.Binary")

	var stderr syncBuffer
	cmd := exec.Command(miner)
	cmd.Env = append(os.Environ(), "MINERBENCH_PLUGIN=miner-v1")
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	m := regexp.MustCompile(`^1\|1\|tcp\|(127\.0\.0\.1:\d+)\|grpc\|\n$`).FindStringSubmatch(line)
	require.NotNil(t, m, "handshake line %q", line)

	conn, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	health := healthpb.NewHealthClient(conn)
	resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	_, err = health.Check(ctx, &healthpb.HealthCheckRequest{Service: "nosuch"})
	assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)

	require.NoError(t, conn.Invoke(ctx, "/plugin.GRPCController/Shutdown", &emptypb.Empty{}, &emptypb.Empty{}))
	select {
	case <-exited:
		assert.NoError(t, waitErr, "stderr:\n%s", stderr.String())
	case <-ctx.Done():
		t.Fatalf("the miner did not exit after Shutdown; stderr:\n%s", stderr.String())
	}
}

// pythonMiner returns the absolute path of the Python miner and the
// interpreter its #! line names, skipping the test when that interpreter
// cannot import the modules the miner needs.
func pythonMiner(t *testing.T) (path string, interpreter []string) {
	t.Helper()
	path, err := filepath.Abs(pythonMinerPath)
	require.NoError(t, err)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	first, err := bufio.NewReader(f).ReadString('\n')
	require.NoError(t, err)
	shebang, ok := strings.CutPrefix(strings.TrimSpace(first), "#!")
	require.True(t, ok, "%s: first line %q is not a #! line", path, first)
	interpreter = strings.Fields(shebang)
	cmd := exec.Command(interpreter[0], append(interpreter[1:], "-c", "import "+pythonModules)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("the Python miner needs %s with the modules %s (Debian: apt-get install python3-grpcio python3-msgpack python3-protobuf python3-cryptography): %v\n%s",
			shebang, pythonModules, err, msg)
	}
	return path, interpreter
}
