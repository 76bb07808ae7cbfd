package minerbench_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

// TestReadmeMinerExample builds the README's miner as a miner author would,
// with the commands the README gives: a module of its own beside a clone of
// this repository, which a replace directive points at. It then runs the
// README's benchmark command in that module, so the whole first step of a
// miner author stays true: the API, the module set-up, and a Package path
// relative to the bench file's directory.
func TestReadmeMinerExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module and runs its benchmarks")
	}
	dir, commands := exampleModule(t, "README.md", "Write a miner", 2)
	out := runIn(t, dir, commands...)
	reader := benchfmt.NewReader(bytes.NewReader(out), "stdout")
	n := 0
	for reader.Scan() {
		if r, ok := reader.Result().(*benchfmt.Result); ok {
			n++
			assert.Contains(t, r.Name.String(), "/miner=mine/")
			success, _ := r.Value("success-%")
			assert.Equal(t, 100.0, success, r.Name.String())
		}
	}
	require.NoError(t, reader.Err())
	assert.Positive(t, n, "no result:\n%s", out)
	assert.FileExists(t, filepath.Join(dir, "results", "mock", "default", "mine", "queries.csv"),
		"the history goes under results/ in the bench file's directory, as the docs' .gitignore expects")
}

// TestDocsMinerExample builds docs/writing-miners.md's miner, its test and
// its bench file with the module set-up that page gives, then vets the
// module (which compiles its tests too) and runs the miner's test.
func TestDocsMinerExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	dir, _ := exampleModule(t, "docs/writing-miners.md", "A miner, its test and its bench file", 3)
	_, setup := section(t, "docs/writing-miners.md", "Your module")
	runIn(t, dir, append(shellCommands(setup), []string{"go", "vet", "./..."}, []string{"go", "test", "./cmd/..."})...)
}

// exampleModule writes the Go code blocks of the named section of a
// Markdown file into the directory mine of a temporary directory, each to
// the file its first line names, and links minerbench beside it to this
// repository, so that ../minerbench is this repository as the docs say. It
// returns mine and the commands of the section's sh blocks.
func exampleModule(t *testing.T, file, heading string, blocks int) (string, [][]string) {
	t.Helper()
	goBlocks, text := section(t, file, heading)
	require.Len(t, goBlocks, blocks, "%s, %s: Go code blocks", file, heading)
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	tmp := t.TempDir()
	require.NoError(t, os.Symlink(root, filepath.Join(tmp, "minerbench")))
	dir := filepath.Join(tmp, "mine")
	for _, b := range goBlocks {
		first, _, _ := strings.Cut(b, "\n")
		path, ok := strings.CutPrefix(first, "// ")
		require.True(t, ok && strings.HasSuffix(path, ".go"), "a code block's first line names its file: %q", first)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, path), []byte(b), 0o644))
	}
	// The tests run offline: this repository's go.sum holds the sums of
	// every module the example needs, which go mod tidy would otherwise
	// fetch from the checksum database.
	sums, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644))
	return dir, shellCommands(text)
}

// section returns the Go code blocks and the whole text of the section of
// a Markdown file headed "## heading", up to the next such heading.
func section(t *testing.T, file, heading string) (goBlocks []string, text string) {
	t.Helper()
	doc, err := os.ReadFile(file)
	require.NoError(t, err)
	_, text, ok := strings.Cut(string(doc), "\n## "+heading+"\n")
	require.True(t, ok, "%s has no section %q", file, heading)
	text, _, _ = strings.Cut(text, "\n## ")
	for _, m := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(text, -1) {
		goBlocks = append(goBlocks, m[1])
	}
	return goBlocks, text
}

// shellCommands returns the commands of the sh code blocks of text, one a
// line, split into words with their single quotes removed; comment lines
// are left out.
func shellCommands(text string) [][]string {
	var commands [][]string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text, -1) {
		for _, line := range strings.Split(m[1], "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				commands = append(commands, strings.Fields(strings.ReplaceAll(line, "'", "")))
			}
		}
	}
	return commands
}

// runIn runs commands in dir, one after another, outside any workspace,
// and returns the last one's stdout. It fails the test at the first
// command that fails.
func runIn(t *testing.T, dir string, commands ...[]string) []byte {
	t.Helper()
	require.NotEmpty(t, commands, "no command")
	var out []byte
	for _, args := range commands {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "%s in the example module:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		out = stdout.Bytes()
	}
	return out
}
