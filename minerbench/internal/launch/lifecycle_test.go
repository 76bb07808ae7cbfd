//go:build unix

package launch_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/chain"
	"github.com/minerbench/minerbench/minerbench/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/contract"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/internal/proctest"
	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/minerbench/wire"
	"github.com/minerbench/minerbench/miners/template/nucleus"
)

// The test binary re-executes itself as a helper host process when
// helperEnv is "host": it launches the plugin binary named by helperPluginEnv,
// prints "pid: N" and blocks until it is killed.
const (
	helperEnv       = "MINERBENCH_PLUGIN_TEST_HELPER"
	helperPluginEnv = "MINERBENCH_PLUGIN_TEST_PLUGIN"
)

// Bounds for things that must end; generous, since the machine is shared.
const (
	endBound  = 20 * time.Second
	pollEvery = 20 * time.Millisecond
)

// Paths of the real miners, built once by TestMain.
var noopBin, templateBin string

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "host" {
		os.Exit(helperHost())
	}
	os.Exit(runTests(m))
}

// runTests builds the real miners into a temporary directory and runs the tests.
func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "plugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	goCmd, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the miners needs the go command: %v\n", err)
		return 1
	}
	noopBin, templateBin = filepath.Join(dir, "noop"), filepath.Join(dir, "template")
	for out, pkg := range map[string]string{
		noopBin:     "github.com/minerbench/minerbench/miners/noop",
		templateBin: "github.com/minerbench/minerbench/miners/template",
	} {
		if msg, err := exec.Command(goCmd, "build", "-o", out, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, msg)
			return 1
		}
	}
	return m.Run()
}

// helperHost is the body of the helper host process.
func helperHost() int {
	p, err := launch.Launch(launch.Config{Path: os.Getenv(helperPluginEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("pid: %d\n", p.Pid())
	time.Sleep(time.Hour)
	return 0
}

// start launches the plugin at path and kills it when the test ends.
func start(t *testing.T, path string) *launch.Process {
	t.Helper()
	p, err := launch.Launch(launch.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	return p
}

// startChain serves a fast in-process chain on loopback and returns it with
// its endpoint.
func startChain(t *testing.T, blockTime time.Duration) (*chain.Chain, string) {
	t.Helper()
	ch, err := chain.New(chain.Config{BlockTime: blockTime})
	require.NoError(t, err)
	t.Cleanup(ch.Start())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop, err := ch.Serve(lis)
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop() })
	return ch, lis.Addr().String()
}

// writeScript writes an executable shell script and returns its path.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755))
	return path
}

func TestInfo(t *testing.T) {
	tests := []struct {
		name  string
		path  *string
		extra miner.Settings
	}{
		{"noop", &noopBin, nil},
		{"template", &templateBin, nucleus.DefaultConfig().Settings()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, *tt.path)
			assert.Positive(t, p.Pid())
			info, err := p.Info(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.name, info.Name)
			want := miner.RuntimeDefaults()
			for k, v := range tt.extra {
				want[k] = v
			}
			assert.Equal(t, map[string]string(want), info.Defaults)
			for _, k := range []string{miner.KeyWalletName, miner.KeyAxonIP, miner.KeyChainEndpoint} {
				assert.Contains(t, info.Defaults, k)
			}
		})
	}
}

func TestRunRegistersAndServes(t *testing.T) {
	tests := []struct {
		name      string
		path      *string
		overrides miner.Settings
	}{
		{"noop", &noopBin, miner.Settings{miner.KeyWalletHotkey: "x"}},
		{"template", &templateBin, miner.Settings{miner.KeyWalletHotkey: "x", "nucleus.nhid": "8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, endpoint := startChain(t, 2*time.Millisecond)
			p := start(t, *tt.path)
			ctx, cancel := context.WithTimeout(context.Background(), endBound)
			defer cancel()
			overrides := miner.Settings{miner.KeyChainEndpoint: endpoint}
			for k, v := range tt.overrides {
				overrides[k] = v
			}
			started, err := p.Run(ctx, overrides)
			require.NoError(t, err)
			assert.Equal(t, wallet.Mock("default/x").SS58(), started.Hotkey)

			neuron, err := chain.FindEndpoint(ctx, ch, started.Hotkey, 5000)
			require.NoError(t, err)
			assert.Equal(t, started.Endpoint, chain.Endpoint(neuron))
			assert.Equal(t, wallet.Mock("default").SS58(), neuron.GetColdkey())

			d, err := dendrite.Dial(ctx, chain.Endpoint(neuron), wallet.Mock("validator"))
			require.NoError(t, err)
			defer d.Close()
			in := tensor.FromInt64([]int64{2, 3}, []int64{1, 2, 3, 4, 5, 6})
			out, code, _ := d.ForwardText(ctx, in)
			require.Equal(t, wire.ReturnCode_Success, code)
			assert.Equal(t, []int64{2, 3, wire.NetworkDim}, out.Shape)
		})
	}
}

func TestRunRefusesUnknownSetting(t *testing.T) {
	p := start(t, templateBin)
	ctx, cancel := context.WithTimeout(context.Background(), endBound)
	defer cancel()
	_, err := p.Run(ctx, miner.Settings{"nucleus.nhdi": "8"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown setting "nucleus.nhdi"`)
	assert.Contains(t, err.Error(), "nucleus.nhid", "the refusal lists the known settings")

	// The refused run left nothing half-started: a good one still works.
	_, err = p.Run(ctx, miner.Settings{"nucleus.nhid": "8"})
	require.NoError(t, err)
}

func TestKillIsIdempotentAndReaps(t *testing.T) {
	p := start(t, noopBin)
	ctx, cancel := context.WithTimeout(context.Background(), endBound)
	defer cancel()
	_, err := p.Run(ctx, nil)
	require.NoError(t, err)
	pid := p.Pid()
	require.Positive(t, pid)
	require.NoError(t, syscall.Kill(pid, 0), "the miner runs before Kill")

	p.Kill()
	p.Kill()
	assert.True(t, p.Exited())
	require.Eventually(t, func() bool { return proctest.Reaped(pid) }, endBound, pollEvery,
		"pid %d still exists after Kill", pid)
}

func TestLaunchChecksum(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	fake := writeScript(t, "fake-miner", "touch '"+marker+"'\n")
	body, err := os.ReadFile(fake)
	require.NoError(t, err)
	sum := sha256.Sum256(body)

	t.Run("mismatch is refused before it runs", func(t *testing.T) {
		wrong := bytes.Repeat([]byte{0xab}, sha256.Size)
		p, err := launch.Launch(launch.Config{Path: fake, Checksum: wrong})
		require.Error(t, err)
		assert.Nil(t, p)
		assert.Contains(t, err.Error(), "SHA-256")
		assert.Contains(t, err.Error(), fmt.Sprintf("%x", sum[:]), "the error shows the actual sum")
		assert.NoFileExists(t, marker, "the refused binary ran")
	})
	t.Run("match runs it", func(t *testing.T) {
		// The script is no plugin, so the handshake fails, but only after
		// the script ran: this proves the marker would have shown a run.
		_, err := launch.Launch(launch.Config{Path: fake, Checksum: sum[:]})
		require.Error(t, err)
		assert.FileExists(t, marker)
	})
	t.Run("real miner with its checksum", func(t *testing.T) {
		body, err := os.ReadFile(noopBin)
		require.NoError(t, err)
		sum := sha256.Sum256(body)
		p, err := launch.Launch(launch.Config{Path: noopBin, Checksum: sum[:]})
		require.NoError(t, err)
		defer p.Kill()
		info, err := p.Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "noop", info.Name)
	})
}

func TestLaunchCrashAtStart(t *testing.T) {
	crash := writeScript(t, "crashing-miner", `echo "loading weights" >&2
echo "weights.bin: no such file" >&2
echo "giving up" >&2
exit 3
`)
	p, err := launch.Launch(launch.Config{Path: crash})
	require.Error(t, err)
	assert.Nil(t, p)
	msg := err.Error()
	assert.Contains(t, msg, "exit status 3")
	assert.Contains(t, msg, crash)
	for _, line := range []string{"loading weights", "weights.bin: no such file", "giving up"} {
		assert.Contains(t, msg, line)
	}
}

// TestFindEndpointGivesUp covers the two ways a launched miner is never
// found on the chain: it registers an unroutable address, or it registers
// nowhere. Either way FindEndpoint stops after its blocks.
func TestFindEndpointGivesUp(t *testing.T) {
	const maxBlocks = 20
	tests := []struct {
		name      string
		overrides func(chainEndpoint string) miner.Settings
		seen      bool
	}{
		{"unspecified external ip", func(ep string) miner.Settings {
			return miner.Settings{miner.KeyChainEndpoint: ep, miner.KeyAxonExternalIP: "0.0.0.0"}
		}, true},
		{"no chain", func(string) miner.Settings {
			return miner.Settings{miner.KeyChainEndpoint: ""}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, endpoint := startChain(t, 2*time.Millisecond)
			p := start(t, noopBin)
			ctx, cancel := context.WithTimeout(context.Background(), endBound)
			defer cancel()
			started, err := p.Run(ctx, tt.overrides(endpoint))
			require.NoError(t, err)

			_, err = chain.FindEndpoint(ctx, ch, started.Hotkey, maxBlocks)
			var nre *chain.NotRegisteredError
			require.ErrorAs(t, err, &nre)
			assert.Equal(t, started.Hotkey, nre.Hotkey)
			assert.GreaterOrEqual(t, nre.Blocks, maxBlocks)
			assert.NoError(t, nre.Err, "the blocks ran out, not the context")
			if tt.seen {
				require.NotNil(t, nre.Seen)
				assert.Equal(t, "0.0.0.0", nre.Seen.GetIp())
				assert.Contains(t, err.Error(), "unspecified")
			} else {
				assert.Nil(t, nre.Seen)
				assert.Contains(t, err.Error(), "is not registered")
			}
		})
	}
}

func TestStandalone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), endBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, noopBin, "-port", "0")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, contract.Handshake.MagicCookieKey+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	printed := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for printed["endpoint"] == "" && sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			printed[k] = v
		}
	}
	endpoint := printed["endpoint"]
	require.NotEmpty(t, endpoint, "no endpoint line on stdout; stderr:\n%s", &stderr)
	assert.Equal(t, wallet.Mock("default/default").SS58(), printed["hotkey"])

	d, err := dendrite.Dial(ctx, endpoint, wallet.Mock("validator"))
	require.NoError(t, err)
	defer d.Close()
	_, code, _ := d.ForwardText(ctx, tensor.FromInt64([]int64{2, 3}, make([]int64, 6)))
	assert.Equal(t, wire.ReturnCode_Success, code)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	_, _ = io.Copy(io.Discard, stdout)
	require.NoError(t, cmd.Wait(), "stderr:\n%s", &stderr)
}

// TestPluginExitsWithItsHost kills a host by SIGKILL, leaving it no chance
// to stop its plugin, and expects the plugin to notice and exit by itself.
func TestPluginExitsWithItsHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), endBound)
	defer cancel()
	host := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), helperEnv+"=host", helperPluginEnv+"="+noopBin)
	var stderr bytes.Buffer
	host.Stderr = &stderr
	stdout, err := host.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, host.Start())
	t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })

	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "helper host stderr:\n%s", &stderr)
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid: ")))
	require.NoError(t, err, "helper host printed %q", line)
	require.Positive(t, pid)
	t.Cleanup(func() {
		if !proctest.Gone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	require.False(t, proctest.Gone(pid), "the plugin runs while its host does")

	require.NoError(t, host.Process.Signal(syscall.SIGKILL))
	err = host.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())

	require.Eventually(t, func() bool { return proctest.Gone(pid) }, endBound, pollEvery,
		"plugin pid %d outlived its SIGKILLed host", pid)
}
