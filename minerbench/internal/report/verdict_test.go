package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/minerbench/minerbench/minerbench/internal/gate"
)

// verdictRows is the text of each row of the report's first verdict table,
// its cells joined by " | ".
func verdictRows(t *testing.T, doc *html.Node) []string {
	t.Helper()
	boxes := find(doc, func(n *html.Node) bool { return strings.HasPrefix(attr(n, "class"), "verdict") })
	require.NotEmpty(t, boxes)
	var rows []string
	trs := find(boxes[0], tag("tr"))
	for i, tr := range trs {
		if i == 0 {
			continue // the header
		}
		var cells []string
		for _, td := range find(tr, tag("td")) {
			cells = append(cells, strings.TrimSpace(texts(td)))
		}
		rows = append(rows, strings.Join(cells, " | "))
	}
	return rows
}

func TestVerdictNamesTheRegression(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.txt")
	cur := filepath.Join(dir, "new.txt")
	unit := benchHeader + "Unit p50-ns better=lower\nUnit p99-ns better=lower\n"
	// noop is 25% slower; flaky is unchanged.
	require.NoError(t, os.WriteFile(old, []byte(unit+benchLines("noop", 10, 0.002)+benchLines("flaky", 10, 0.003)), 0o644))
	require.NoError(t, os.WriteFile(cur, []byte(unit+benchLines("noop", 10, 0.0025)+benchLines("flaky", 10, 0.003)), 0o644))
	doc, raw := parseReport(t, Options{Files: []string{old, cur}, Judge: gate.Options{Threshold: 0.05}, Gate: true})
	rows := verdictRows(t, doc)
	n := "Standard/miner=noop/batch=10/block=10/conc=1-2"
	require.Len(t, rows, 3, "the judged metrics of noop, largest change first")
	assert.Regexp(t, `^`+n+` \| p50-sec \| 2\.\d+ ms \| 2\.\d+ ms \| \+25\.0% \| .* \| worse$`, rows[0])
	assert.Regexp(t, `^`+n+` \| p99-sec \| 6\.\d+ ms \| 7\.\d+ ms \| \+25\.0% \| \+\d+\.\d% to \+\d+\.\d% \| \d\.\de-05 \| worse$`, rows[1])
	assert.Regexp(t, `^`+n+` \| queries/s \| .* \| -20\.0% \| .* \| worse$`, rows[2])
	assert.Contains(t, raw, "Gate: FAIL")
	assert.Contains(t, raw, "gate: FAIL: 3 significant regressions")
	assert.Less(t, strings.Index(raw, "Verdict:"), strings.Index(raw, "<nav>"), "the verdict comes before everything else")

	// The same file twice: nothing changed, and the report says so.
	doc, raw = parseReport(t, Options{Files: []string{old, old}, Judge: gate.Options{Threshold: 0.05}, Gate: true})
	assert.Empty(t, verdictRows(t, doc))
	assert.Contains(t, raw, "No significant change: no metric judged moved by more than 5% at p ≤ 0.05 after correction.")
	assert.Contains(t, raw, "Gate: PASS")
	assert.Contains(t, raw, old+"#2")
}

func TestVerdictSaysWhyItCannotDecide(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.txt")
	require.NoError(t, os.WriteFile(old, []byte(benchHeader+benchLines("noop", 3, 0.002)), 0o644))
	_, raw := parseReport(t, Options{Files: []string{old, old}})
	assert.Contains(t, raw, "No verdict: too few runs to decide")
}

func TestOneFileSummary(t *testing.T) {
	old, _, _ := fixture(t)
	doc, _ := parseReport(t, Options{Files: []string{old}})
	tables := find(doc, func(n *html.Node) bool { return attr(n, "class") == "summary" })
	require.Len(t, tables, 1)
	var rows []string
	for _, tr := range find(tables[0], tag("tr")) {
		var cells []string
		for _, c := range find(tr, func(n *html.Node) bool { return n.Data == "td" || n.Data == "th" }) {
			cells = append(cells, strings.TrimSpace(texts(c)))
		}
		rows = append(rows, strings.Join(cells, " | "))
	}
	// benchLines' medians: the mean of its 3rd and 4th runs, 1.025 × p50 for
	// the latencies (3.075 ms for flaky), 1/(1.1 p50) × (1/1.02 + 1/1.03)/2 for
	// queries/s (295.6 for flaky).
	assert.Equal(t, []string{
		"benchmark | miner | queries/s | success % | p50 | p99 | runs",
		"Standard/batch=10/block=10/conc=1-2 | flaky | 295.6 ± 2% | 100 ± 0% | 3.08 ms ± 2% | 9.23 ms ± 2% | 6",
		"Standard/batch=10/block=10/conc=1-2 | noop | 443.5 ± 2% | 100 ± 0% | 2.05 ms ± 2% | 6.15 ms ± 2% | 6",
	}, rows)
	assert.Empty(t, find(doc, func(n *html.Node) bool { return strings.HasPrefix(attr(n, "class"), "verdict") }))
}

// sectionIDs lists the ids of the report's plot sections.
func sectionIDs(doc *html.Node) []string {
	var ids []string
	for _, s := range find(doc, tag("section")) {
		ids = append(ids, attr(s, "id"))
	}
	return ids
}

// TestRunsAttributedByTime writes two files as go test writes them, each
// with its "ok" line, at known times, and a history with a run before
// both, one in each file's window, and one of a miner no file ran: each run
// is shown as its file's, the others apart.
func TestRunsAttributedByTime(t *testing.T) {
	dir := t.TempDir()
	const t0 = 1795990000.0
	write := func(name string, p50 float64, end float64) string {
		path := filepath.Join(dir, name)
		text := benchHeader + benchLines("noop", 1, p50) + "PASS\nok  \tgithub.com/minerbench/minerbench\t100.5s\n"
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		stamp := time.Unix(int64(end), 0)
		require.NoError(t, os.Chtimes(path, stamp, stamp))
		return path
	}
	old := write("old.txt", 0.002, t0+1000)
	cur := write("new.txt", 0.003, t0+2000)
	results := filepath.Join(dir, "results")
	one := func(start float64) run { return run{start: start, n: 50, conc: 1, latency: steady, code: success} }
	writeHistory(t, results, "noop", "queries.csv", one(t0), one(t0+950), one(t0+1950))
	writeHistory(t, results, "flaky", "queries.csv", one(t0+960))
	doc, _ := parseReport(t, Options{Files: []string{"old=" + old, "new=" + cur}, Results: []string{results}})
	ids := sectionIDs(doc)
	for _, want := range []string{
		"timeline-noop-queries.csv-batch=10-block=10-conc=1-runs-of-old",
		"timeline-noop-queries.csv-batch=10-block=10-conc=1-runs-of-new",
		"timeline-noop-queries.csv-batch=10-block=10-conc=1-runs-of-no-benchmark-file",
		"timeline-flaky-queries.csv-batch=10-block=10-conc=1-runs-of-no-benchmark-file",
	} {
		assert.Contains(t, ids, want)
	}
	for _, id := range ids {
		if strings.HasPrefix(id, "timeline-") {
			sec := find(doc, func(n *html.Node) bool { return attr(n, "id") == id })
			assert.Contains(t, texts(sec[0]), "50 queries in 1 run ", "%s: one run each, never merged", id)
		}
	}
}

// TestRunsOfPairedDirectories gives each file its own results directory,
// as scripts/compare.sh keeps them, with runs interleaved in time: each
// directory's runs are its file's.
func TestRunsOfPairedDirectories(t *testing.T) {
	old, cur, _ := fixture(t)
	dir := t.TempDir()
	one := func(start float64) run { return run{start: start, n: 40, conc: 1, latency: steady, code: success} }
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	writeHistory(t, oldDir, "noop", "queries.csv", one(1795990000), one(1795990020))
	writeHistory(t, newDir, "noop", "queries.csv", one(1795990010), one(1795990030))
	doc, _ := parseReport(t, Options{Files: []string{"old=" + old, "new=" + cur}, Results: []string{"old=" + oldDir, "new=" + newDir}})
	ids := sectionIDs(doc)
	assert.Contains(t, ids, "timeline-noop-queries.csv-batch=10-block=10-conc=1-runs-of-old")
	assert.Contains(t, ids, "timeline-noop-queries.csv-batch=10-block=10-conc=1-runs-of-new")
	pct := find(doc, func(n *html.Node) bool { return attr(n, "id") == "percentiles-Standard-batch=10-block=10-conc=1-2" })
	require.Len(t, pct, 1)
	text := texts(pct[0])
	assert.Contains(t, text, "noop: history queries.csv, runs of old, 80 queries")
	assert.Contains(t, text, "noop: history queries.csv, runs of new, 80 queries")
}

// TestSharedLoadDrawnOnce checks that two benchmarks of one load, whose
// runs share a history, each plot its curve while its timeline is drawn
// once: no section is repeated.
func TestSharedLoadDrawnOnce(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.txt")
	conc := strings.ReplaceAll(benchLines("noop", 4, 0.002), "Standard/", "Concurrency/")
	require.NoError(t, os.WriteFile(old, []byte(benchHeader+benchLines("noop", 4, 0.002)+conc), 0o644))
	results := filepath.Join(dir, "results")
	writeHistory(t, results, "noop", "queries.csv", run{start: 1795990000, n: 100, conc: 1, latency: steady, code: success})
	doc, _ := parseReport(t, Options{Files: []string{old}, Results: []string{results}})
	ids := sectionIDs(doc)
	seen := map[string]bool{}
	for _, id := range ids {
		assert.False(t, seen[id], "section %s repeated", id)
		seen[id] = true
	}
	assert.Equal(t, []string{
		"percentiles-Standard-batch=10-block=10-conc=1-2",
		"timeline-noop-queries.csv-batch=10-block=10-conc=1-runs-of-old.txt",
		"codes-noop-queries.csv-batch=10-block=10-conc=1-runs-of-old.txt",
		"percentiles-Concurrency-batch=10-block=10-conc=1-2",
	}, ids)
	for _, id := range []string{ids[0], ids[3]} {
		sec := find(doc, func(n *html.Node) bool { return attr(n, "id") == id })
		assert.Contains(t, texts(sec[0]), "noop: history queries.csv, runs of old.txt, 100 queries")
	}
}
