package minerbench_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeMinerExample writes the Go code blocks of the README's "Writing
// your own miner" section into a module of their own, each to the file its
// first line names, with this repository as its minerbench (a replace
// directive), then vets the module (which compiles its tests too) and runs
// its tests: the README's miner, its test and its bench file stay true to
// the API.
func TestReadmeMinerExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Writing your own miner\n")
	require.True(t, ok, "README.md has no section Writing your own miner")
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(section, -1)
	require.Len(t, blocks, 3, "the miner, its test and the bench file")

	dir := t.TempDir()
	for _, b := range blocks {
		first, _, _ := strings.Cut(b[1], "\n")
		path, ok := strings.CutPrefix(first, "// ")
		require.True(t, ok && strings.HasSuffix(path, ".go"), "a code block's first line names its file: %q", first)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, path), []byte(b[1]), 0o644))
	}

	root, err := filepath.Abs(".")
	require.NoError(t, err)
	ourMod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	module := regexp.MustCompile(`(?m)^module (\S+)$`).FindSubmatch(ourMod)
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(ourMod)
	require.True(t, module != nil && goVersion != nil, "go.mod has no module or go line")
	gomod := fmt.Sprintf("module example.com/mine\n\ngo %s\n\nrequire %s v0.0.0\n\nreplace %[2]s => %s\n", goVersion[1], module[1], root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sums, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644))

	for _, args := range [][]string{{"mod", "tidy"}, {"vet", "./..."}, {"test", "./cmd/..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s in the README's module:\n%s", strings.Join(args, " "), out)
	}
}
