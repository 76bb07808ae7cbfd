package minerbench_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsLinks checks every relative link of every Markdown file in the
// repository: the file or directory it names exists inside the repository,
// and its #anchor, if any, is the GitHub slug of a heading of the Markdown
// file it points at.
func TestDocsLinks(t *testing.T) {
	var files []string
	require.NoError(t, filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "results" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return nil
	}))
	require.Contains(t, files, "README.md")
	n := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, target := range markdownLinks(string(text)) {
			n++
			assert.NoError(t, checkLink(file, target), "%s: link %s", file, target)
		}
	}
	assert.Positive(t, n, "no relative link found")
}

// TestGitHubSlug checks the heading anchors against the ones GitHub gives
// these headings.
func TestGitHubSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"Reports and a CI gate: `go tool minerbench`":                           "reports-and-a-ci-gate-go-tool-minerbench",
		"`BenchmarkOverhead`: the client's cost, the server in another process": "benchmarkoverhead-the-clients-cost-the-server-in-another-process",
		"The limits minerbench's axon adds":                                     "the-limits-minerbenchs-axon-adds",
		"Benchmark a running synapse axon (bittensor ≥ 6)":                      "benchmark-a-running-synapse-axon-bittensor--6",
		"The [msgpack-numpy](https://example.com) layout":                       "the-msgpack-numpy-layout",
		"`-mb.set`: a miner's settings":                                         "-mbset-a-miners-settings",
		"max_answer_bytes × 4":                                                  "max_answer_bytes--4",
	} {
		assert.Equal(t, want, githubSlug(heading), heading)
	}
}

// markdownLinks returns the targets of the inline links and images of a
// Markdown text that point inside the repository: outside code, without a
// URL scheme.
func markdownLinks(text string) []string {
	var targets []string
	prose := codeSpan.ReplaceAllString(strings.Join(proseLines(text), "\n"), "")
	for _, m := range linkTarget.FindAllStringSubmatch(prose, -1) {
		if !urlScheme.MatchString(m[1]) {
			targets = append(targets, m[1])
		}
	}
	return targets
}

// The parts of Markdown the link check reads: a link's target (with an
// optional title), a code span (which may wrap across lines), a URL's
// scheme, an ATX heading, and an inline link or image.
var (
	linkTarget = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
	urlScheme  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	atxHeading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	inlineLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
)

// proseLines returns the lines of a Markdown text outside fenced code
// blocks.
func proseLines(text string) []string {
	var lines []string
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			lines = append(lines, line)
		}
	}
	return lines
}

// checkLink reports whether the link target, written in file, names a path
// inside the repository and, for an anchor, a heading of that path.
func checkLink(file, target string) error {
	path, anchor, _ := strings.Cut(target, "#")
	resolved := file
	if path != "" {
		resolved = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
	}
	if rel, err := filepath.Rel(".", resolved); err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is outside the repository", resolved)
	}
	if _, err := os.Stat(resolved); err != nil {
		return err
	}
	if anchor == "" {
		return nil
	}
	if !strings.HasSuffix(resolved, ".md") {
		return fmt.Errorf("anchor #%s in %s, which is not Markdown", anchor, resolved)
	}
	text, err := os.ReadFile(resolved)
	if err != nil {
		return err
	}
	slugs := headingSlugs(string(text))
	if !slugs[anchor] {
		return fmt.Errorf("%s has no heading #%s", resolved, anchor)
	}
	return nil
}

// headingSlugs returns the anchors GitHub gives the ATX headings of a
// Markdown text: a heading's slug, and for a repeated slug -1, -2, … after
// it.
func headingSlugs(text string) map[string]bool {
	slugs := map[string]bool{}
	seen := map[string]int{}
	for _, line := range proseLines(text) {
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := githubSlug(m[1])
		if n := seen[slug]; n > 0 {
			slugs[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			slugs[slug] = true
		}
		seen[slug]++
	}
	return slugs
}

// githubSlug returns the anchor GitHub gives a heading: its text, links
// reduced to their text and code marks dropped, in lower case, without any
// character but letters, digits, marks, underscores, hyphens and spaces,
// and with each space a hyphen.
func githubSlug(heading string) string {
	heading = inlineLink.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
