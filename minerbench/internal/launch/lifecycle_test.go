//go:build unix

package launch_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/minerbench/minerbench/minerbench/internal/chain"
	"github.com/minerbench/minerbench/minerbench/internal/chaintest"
	"github.com/minerbench/minerbench/minerbench/internal/contract"
	"github.com/minerbench/minerbench/minerbench/internal/dendrite"
	"github.com/minerbench/minerbench/minerbench/internal/launch"
	"github.com/minerbench/minerbench/minerbench/internal/proctest"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/minerbench/tensor"
	"github.com/minerbench/minerbench/minerbench/wallet"
	"github.com/minerbench/minerbench/miners/template/nucleus"
)

// The test binary re-executes itself as a helper process when helperEnv is
// set. As "host", it launches the plugin binary named by helperPluginEnv,
// prints "pid: N" and blocks until it is killed; when helperPluginEnv is
// "orphan", the plugin is the test binary itself as an orphan (below), and
// the host also prints "child: N", the orphan's child. As "orphan", it is a
// plugin that does not use miner.Serve and ignores its parent's death: it
// starts a sleeping child and serves a Controller whose Info names the
// child's pid under the key "child".
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
	switch os.Getenv(helperEnv) {
	case "host":
		os.Exit(helperHost())
	case "orphan":
		os.Exit(helperOrphan())
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
	path := os.Getenv(helperPluginEnv)
	orphan := path == "orphan"
	if orphan {
		path = os.Args[0]
		os.Setenv(helperEnv, "orphan")
	}
	p, err := launch.Launch(context.Background(), launch.Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("pid: %d\n", p.Pid())
	if orphan {
		info, err := p.Info(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("child: %s\n", info.Defaults["child"])
	}
	time.Sleep(time.Hour)
	return 0
}

// helperOrphan is the body of the orphan plugin: a plugin in the contract
// that does not use miner.Serve, so nothing in it watches its parent.
func helperOrphan() int {
	// A write to the pipe of a dead host must not end it either.
	signal.Ignore(syscall.SIGPIPE)
	child := exec.Command("sleep", "3600")
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: contract.Handshake,
		Plugins:         contract.PluginSet(orphan{child: child.Process.Pid}),
		GRPCServer:      goplugin.DefaultGRPCServer,
	})
	return 0
}

// orphan is the orphan plugin's Controller.
type orphan struct{ child int }

func (o orphan) Info(context.Context) (contract.Info, error) {
	return contract.Info{Name: "orphan", Defaults: map[string]string{"child": strconv.Itoa(o.child)}}, nil
}

func (orphan) Start(context.Context, map[string]string) (contract.Started, error) {
	return contract.Started{}, errors.New("the orphan serves no axon")
}

func (orphan) Stop(context.Context) error { return nil }

// start launches the plugin at path and kills it when the test ends.
func start(t *testing.T, path string) *launch.Process {
	t.Helper()
	p, err := launch.Launch(context.Background(), launch.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	return p
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
			ch, endpoint := chaintest.Serve(t, chain.Config{BlockTime: 2 * time.Millisecond})
			t.Cleanup(ch.Start())
			p := start(t, *tt.path)
			ctx, cancel := context.WithTimeout(context.Background(), endBound)
			defer cancel()
			overrides := miner.Settings{miner.KeyChainEndpoint: endpoint}
			for k, v := range tt.overrides {
				overrides[k] = v
			}
			started, err := p.Start(ctx, overrides)
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
	_, err := p.Start(ctx, miner.Settings{"nucleus.nhdi": "8"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown setting "nucleus.nhdi"`)
	assert.Contains(t, err.Error(), "nucleus.nhid", "the refusal lists the known settings")

	// The refused run left nothing half-started: a good one still works.
	_, err = p.Start(ctx, miner.Settings{"nucleus.nhid": "8"})
	require.NoError(t, err)
}

func TestKillIsIdempotentAndReaps(t *testing.T) {
	p := start(t, noopBin)
	ctx, cancel := context.WithTimeout(context.Background(), endBound)
	defer cancel()
	_, err := p.Start(ctx, nil)
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
		p, err := launch.Launch(context.Background(), launch.Config{Path: fake, Checksum: wrong})
		require.Error(t, err)
		assert.Nil(t, p)
		assert.Contains(t, err.Error(), "SHA-256")
		assert.Contains(t, err.Error(), fmt.Sprintf("%x", sum[:]), "the error shows the actual sum")
		assert.NoFileExists(t, marker, "the refused binary ran")
	})
	t.Run("match runs it", func(t *testing.T) {
		// The script is no plugin, so the handshake fails, but only after
		// the script ran: this proves the marker would have shown a run.
		_, err := launch.Launch(context.Background(), launch.Config{Path: fake, Checksum: sum[:]})
		require.Error(t, err)
		assert.FileExists(t, marker)
	})
	t.Run("real miner with its checksum", func(t *testing.T) {
		body, err := os.ReadFile(noopBin)
		require.NoError(t, err)
		sum := sha256.Sum256(body)
		p, err := launch.Launch(context.Background(), launch.Config{Path: noopBin, Checksum: sum[:]})
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
	p, err := launch.Launch(context.Background(), launch.Config{Path: crash})
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
			ch, endpoint := chaintest.Serve(t, chain.Config{BlockTime: 2 * time.Millisecond})
			t.Cleanup(ch.Start())
			p := start(t, noopBin)
			ctx, cancel := context.WithTimeout(context.Background(), endBound)
			defer cancel()
			started, err := p.Start(ctx, tt.overrides(endpoint))
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
// to stop its plugin, and expects the plugin, and what the plugin started,
// to end. noop watches its parent (miner.Serve); the orphan does not, and
// has a child: the kernel (Pdeathsig) ends the orphan, and the host's
// watchdog its process group. With the watchdog killed first, the kernel
// alone must end the orphan.
func TestPluginExitsWithItsHost(t *testing.T) {
	tests := []struct {
		name         string
		plugin       string
		killWatchdog bool
	}{
		{"noop", noopBin, false},
		{"orphan with a child", "orphan", false},
		{"orphan without the watchdog", "orphan", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), endBound)
			defer cancel()
			host := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			host.Env = append(os.Environ(), helperEnv+"=host", helperPluginEnv+"="+tt.plugin)
			var stderr bytes.Buffer
			host.Stderr = &stderr
			stdout, err := host.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, host.Start())
			t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })

			printed := bufio.NewReader(stdout)
			plugin := readPid(t, printed, "pid: ", &stderr)
			mustEnd := []int{plugin}
			if tt.plugin == "orphan" {
				child := readPid(t, printed, "child: ", &stderr)
				killAtCleanup(t, child)
				if !tt.killWatchdog {
					mustEnd = append(mustEnd, child)
				}
			}
			for _, pid := range mustEnd {
				killAtCleanup(t, pid)
				require.False(t, proctest.Gone(pid), "pid %d runs while its host does", pid)
			}
			if tt.killWatchdog {
				watchdog := slices.DeleteFunc(proctest.Descendants(host.Process.Pid), func(pid int) bool {
					comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
					return pid == plugin || string(comm) != "sh\n"
				})
				require.Len(t, watchdog, 1, "the host's watchdog")
				require.NoError(t, syscall.Kill(watchdog[0], syscall.SIGKILL))
			}

			require.NoError(t, host.Process.Signal(syscall.SIGKILL))
			err = host.Wait()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())

			for _, pid := range mustEnd {
				require.Eventually(t, func() bool { return proctest.Gone(pid) }, endBound, pollEvery,
					"pid %d outlived its SIGKILLed host", pid)
			}
		})
	}
}

// readPid reads a line "<prefix>N" of a helper process and returns N.
func readPid(t *testing.T, r *bufio.Reader, prefix string, stderr *bytes.Buffer) int {
	t.Helper()
	line, err := r.ReadString('\n')
	require.NoError(t, err, "helper stderr:\n%s", stderr)
	require.True(t, strings.HasPrefix(line, prefix), "helper printed %q, want %q…", line, prefix)
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, prefix)))
	require.NoError(t, err, "helper printed %q", line)
	require.Positive(t, pid)
	return pid
}

// killAtCleanup kills pid when the test ends, if it is still running.
func killAtCleanup(t *testing.T, pid int) {
	t.Cleanup(func() {
		if !proctest.Gone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// launchBounded runs Launch in the background and returns its result, or
// fails the test if it has not returned within endBound: a Launch that
// hangs must not hang the test.
func launchBounded(t *testing.T, ctx context.Context, cfg launch.Config) (*launch.Process, error) {
	t.Helper()
	p, err := bounded(t, "Launch", func() (*launch.Process, error) { return launch.Launch(ctx, cfg) })
	if p != nil {
		t.Cleanup(p.Kill)
	}
	return p, err
}

// bounded returns what f returns, or fails the test if f, called name, has
// not returned within endBound.
func bounded[T any](t *testing.T, name string, f func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(endBound):
		t.Fatalf("%s did not return within %v", name, endBound)
		var zero T
		return zero, nil
	}
}

// readPidFile waits for a pid a script writes to path.
func readPidFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	}, endBound, pollEvery, "no pid in %s", path)
	killAtCleanup(t, pid)
	return pid
}

// TestLaunchChildHoldsOutput launches a miner that starts a child holding
// its stdout and stderr, then exits before the handshake. go-plugin reads
// the pipes to their end before it notices the exit, so this stalled the
// host until the child ended. Launch must fail at once, saying the miner
// exited; the child, in the miner's process group, must be ended with it.
// One that left the group (setsid) cannot be ended, only cut off.
func TestLaunchChildHoldsOutput(t *testing.T) {
	tests := []struct {
		name string
		// start starts the child in the background and writes its pid to
		// the file f once it is set up.
		start func(f string) string
		ended bool   // the child is ended with the miner
		needs string // a command start uses besides sh and sleep
	}{
		{"child in the group", func(f string) string {
			return "sleep 3600 &\necho $! > '" + f + "'\n"
		}, true, ""},
		{"child that left the group", func(f string) string {
			return "setsid sh -c 'echo $$ > \"" + f + "\"; exec sleep 3600' &\nwhile [ ! -s '" + f + "' ]; do sleep 0.01; done\n"
		}, false, "setsid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := exec.LookPath(tt.needs); tt.needs != "" && err != nil {
				t.Skip(err)
			}
			pidFile := filepath.Join(t.TempDir(), "child")
			script := writeScript(t, "forking-miner", tt.start(pidFile)+"echo 'started a child' >&2\nexit 0\n")
			ctx, cancel := context.WithTimeout(context.Background(), endBound)
			defer cancel()
			p, err := launchBounded(t, ctx, launch.Config{Path: script})
			child := readPidFile(t, pidFile)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "Launch failed by the exit, not by its context")
			assert.Contains(t, err.Error(), "(miner exit status 0)")
			assert.Contains(t, err.Error(), "started a child", "the miner's log")
			if tt.ended {
				require.Eventually(t, func() bool { return proctest.Gone(child) }, endBound, pollEvery,
					"child pid %d outlived its miner", child)
			} else {
				assert.False(t, proctest.Gone(child), "the child that left the group runs on")
			}
		})
	}
}

// TestLaunchEndsWithItsContext launches a miner that never completes its
// handshake: when Launch's context ends, Launch returns its error and the
// miner is gone.
func TestLaunchEndsWithItsContext(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := writeScript(t, "silent-miner", "echo $$ > '"+pidFile+"'\nexec sleep 3600\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		p   *launch.Process
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := launch.Launch(ctx, launch.Config{Path: script})
		done <- result{p, err}
	}()
	pid := readPidFile(t, pidFile)
	require.False(t, proctest.Gone(pid))
	cancel()
	select {
	case r := <-done:
		require.ErrorIs(t, r.err, context.Canceled)
		assert.Nil(t, r.p)
		assert.Contains(t, r.err.Error(), "signal: killed")
	case <-time.After(endBound):
		t.Fatalf("Launch did not return within %v of its context's end", endBound)
	}
	assert.True(t, proctest.Reaped(pid), "pid %d was not ended and reaped", pid)
}

// TestKillEndsWhatTheMinerStarted stops a miner that has a child: the
// child ends with it, in its process group.
func TestKillEndsWhatTheMinerStarted(t *testing.T) {
	t.Setenv(helperEnv, "orphan") // the plugin inherits the environment
	p := start(t, os.Args[0])
	info, err := p.Info(context.Background())
	require.NoError(t, err)
	child, err := strconv.Atoi(info.Defaults["child"])
	require.NoError(t, err)
	killAtCleanup(t, child)
	require.False(t, proctest.Gone(child))

	p.Kill()
	assert.True(t, proctest.Reaped(p.Pid()), "the miner was ended and reaped")
	require.Eventually(t, func() bool { return proctest.Gone(child) }, endBound, pollEvery,
		"the miner's child pid %d outlived it", child)
}

// TestKillFrozenMiner stops a miner that no longer answers anything (it is
// SIGSTOPped): go-plugin's own kill waits for the plugin's answer without a
// bound, so Kill must end the process itself.
func TestKillFrozenMiner(t *testing.T) {
	p := start(t, noopBin)
	pid := p.Pid()
	killAtCleanup(t, pid)
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	killed := make(chan struct{})
	go func() {
		p.Kill()
		close(killed)
	}()
	select {
	case <-killed:
	case <-time.After(2 * endBound):
		t.Fatalf("Kill of a frozen miner did not return within %v", 2*endBound)
	}
	assert.True(t, p.Exited())
	assert.True(t, proctest.Reaped(pid), "pid %d was not ended and reaped", pid)
}
