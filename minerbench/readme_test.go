package minerbench

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

// TestReadmeSample checks the README's sample of what a run prints against
// the command it says printed it: as many iterations as its -benchtime Nx,
// and the Unit lines Main prints.
func TestReadmeSample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	text := string(readme)
	_, section, ok := strings.Cut(text, "## What a run prints")
	require.True(t, ok, "no section What a run prints")
	first := regexp.MustCompile(`go test -run '\^\$' -bench \. -benchtime ([0-9]+)x`).FindStringSubmatch(text)
	require.NotNil(t, first, "no benchmark command at the top of the README")
	require.Contains(t, section, "`-benchtime "+first[1]+"x`", "the section speaks of another -benchtime")
	_, block, ok := strings.Cut(section, "```\n")
	require.True(t, ok, "no sample")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok, "unterminated sample")

	assert.True(t, strings.HasPrefix(block, unitLines), "the sample's Unit lines are not Main's:\n%s", block)
	reader := benchfmt.NewReader(strings.NewReader(block), "README.md")
	n := 0
	for reader.Scan() {
		switch r := reader.Result().(type) {
		case *benchfmt.Result:
			n++
			assert.Equal(t, first[1], strconv.Itoa(r.Iters), "%s: iterations", r.Name)
		case *benchfmt.SyntaxError:
			t.Error(r)
		}
	}
	require.NoError(t, reader.Err())
	assert.Positive(t, n, "no result in the sample")
}
