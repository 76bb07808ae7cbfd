package report

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
	"gonum.org/v1/plot"

	"github.com/minerbench/minerbench/minerbench/internal/history"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

// run is a run of a fixture history: n queries at conc, the i-th taking
// latency(i) seconds and answered code(i).
type run struct {
	start   float64
	n, conc int
	latency func(i int) float64
	code    func(i int) wire.ReturnCode
}

// writeHistory writes runs as a history at dir/<network>/<wallet>/miner/file.
func writeHistory(t testing.TB, dir, miner, file string, runs ...run) string {
	t.Helper()
	path := filepath.Join(dir, "mock", "default", miner, file)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, history.Header)
	index := 0
	for _, r := range runs {
		elapsed := 0.0
		for i := range r.n {
			lat := r.latency(i)
			elapsed += lat / float64(r.conc)
			fmt.Fprintf(w, "%d,%v,%d,%v,%d,%d,10,10,1,%v\n", index, lat, r.code(i), elapsed, r.conc, r.n, r.start)
			index++
		}
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	return path
}

// steady is a latency of about 2 ms with a deterministic spread.
func steady(i int) float64 { return 0.002 * (1 + 0.5*math.Sin(float64(i))) }

func success(int) wire.ReturnCode { return wire.ReturnCode_Success }

// mixed answers NucleusFull every 7th query, Timeout every 11th and
// UnknownException every 13th.
func mixed(i int) wire.ReturnCode {
	switch {
	case i%13 == 0:
		return wire.ReturnCode_UnknownException
	case i%11 == 0:
		return wire.ReturnCode_Timeout
	case i%7 == 0:
		return wire.ReturnCode_NucleusFull
	}
	return wire.ReturnCode_Success
}

// benchLines formats count results of miner's standard benchmark with
// latency quantiles around p50 seconds.
func benchLines(miner string, count int, p50 float64) string {
	var b strings.Builder
	for i := range count {
		f := 1 + 0.01*float64(i)
		fmt.Fprintf(&b, "BenchmarkStandard/miner=%s/batch=10/block=10/conc=1-2 \t 100\t %.0f ns/op\t %.0f p50-ns\t %.0f p90-ns\t %.0f p99-ns\t %.1f queries/s\t 100.0 success-%%\n",
			miner, p50*1.1e9*f, p50*1e9*f, p50*1.5e9*f, p50*3e9*f, 1/(p50*1.1*f))
	}
	return b.String()
}

const benchHeader = "Unit queries/s better=higher\nUnit success-% better=higher\ngoos: linux\ngoarch: amd64\npkg: github.com/minerbench/minerbench\ncpu: Test CPU\n"

// fixture writes two result files and a results directory with a steady
// noop history and a flaky one answering four return codes.
func fixture(t testing.TB) (old, cur, results string) {
	dir := t.TempDir()
	old = filepath.Join(dir, "old.txt")
	cur = filepath.Join(dir, "new.txt")
	require.NoError(t, os.WriteFile(old, []byte(benchHeader+benchLines("noop", 6, 0.002)+benchLines("flaky", 6, 0.003)), 0o644))
	require.NoError(t, os.WriteFile(cur, []byte(benchHeader+benchLines("noop", 6, 0.0025)+benchLines("flaky", 6, 0.003)), 0o644))
	results = filepath.Join(dir, "results")
	writeHistory(t, results, "noop", "queries.csv",
		run{start: 1795990000, n: 600, conc: 1, latency: steady, code: success},
		run{start: 1795990060, n: 600, conc: 1, latency: steady, code: success})
	writeHistory(t, results, "flaky", "queries.csv", run{start: 1795990100, n: 1000, conc: 1, latency: steady, code: mixed})
	writeHistory(t, results, "flaky", "custom-queries.csv", run{start: 1795990200, n: 300, conc: 4, latency: steady, code: success})
	return old, cur, results
}

// parseReport writes the report of opts and parses it as HTML.
func parseReport(t *testing.T, opts Options) (*html.Node, string) {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, Write(&out, opts))
	doc, err := html.Parse(bytes.NewReader(out.Bytes()))
	require.NoError(t, err, "the report parses as HTML")
	return doc, out.String()
}

// find returns the elements under n for which match is true.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

// texts is the text content under n.
func texts(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func TestReportSections(t *testing.T) {
	old, cur, results := fixture(t)
	var warn bytes.Buffer
	doc, _ := parseReport(t, Options{Files: []string{"old=" + old, "new=" + cur}, Results: []string{results}, Warn: &warn})
	assert.Empty(t, warn.String())

	// The axis labels each kind of plot must show.
	axes := map[string][]string{
		"percentiles": {"percentile (log scale of 1/(1-q))", "latency (ms)"},
		"timeline":    {"latency (ms)", "time since the run's start (s)", "queries/s"},
		"codes":       {"queries", "return code"},
		"comparison":  {"change (%)"},
	}
	var got []string
	for _, s := range find(doc, tag("section")) {
		kind := strings.TrimPrefix(attr(s, "class"), "plot ")
		svgs := find(s, tag("svg"))
		require.Len(t, svgs, 1, "section %s holds one plot", attr(s, "id"))
		text := texts(svgs[0])
		require.Contains(t, axes, kind, "section %s", attr(s, "id"))
		for _, label := range axes[kind] {
			assert.Contains(t, text, label, "section %s: axis label", attr(s, "id"))
		}
		got = append(got, attr(s, "id"))
	}
	// The fixture's runs started before either file was written, with no
	// go test durations in the files: they fall in old's window.
	assert.Equal(t, []string{
		"comparison",
		"percentiles-Standard-batch=10-block=10-conc=1-2",
		"timeline-flaky-queries.csv-batch=10-block=10-conc=1-runs-of-old",
		"codes-flaky-queries.csv-batch=10-block=10-conc=1-runs-of-old",
		"timeline-noop-queries.csv-batch=10-block=10-conc=1-runs-of-old",
		"codes-noop-queries.csv-batch=10-block=10-conc=1-runs-of-old",
		"percentiles-custom-queries.csv-batch=10-block=10-conc=4-runs-of-no-benchmark-file",
		"timeline-flaky-custom-queries.csv-batch=10-block=10-conc=4-runs-of-no-benchmark-file",
		"codes-flaky-custom-queries.csv-batch=10-block=10-conc=4-runs-of-no-benchmark-file",
	}, got)
	var groups []string
	for _, h := range find(doc, func(n *html.Node) bool { return n.Data == "h2" && attr(n, "class") == "group" }) {
		groups = append(groups, strings.TrimSpace(texts(h)))
	}
	assert.Equal(t, []string{"All changes", "Standard/batch=10/block=10/conc=1-2", "Runs of no benchmark file"}, groups,
		"sections grouped by benchmark")
	nav := find(doc, tag("nav"))
	require.Len(t, nav, 1)
	for _, g := range groups {
		assert.Contains(t, texts(nav[0]), g, "the contents show the groups")
	}
}

func TestReportShowsEveryReturnCode(t *testing.T) {
	old, cur, results := fixture(t)
	doc, _ := parseReport(t, Options{Files: []string{"old=" + old, "new=" + cur}, Results: []string{results}})
	want := map[string]int64{}
	for i := range 1000 {
		want[mixed(i).String()]++
	}
	require.Len(t, want, 4)
	for _, id := range []string{"codes-flaky-queries.csv-batch=10-block=10-conc=1-runs-of-old", "timeline-flaky-queries.csv-batch=10-block=10-conc=1-runs-of-old"} {
		secs := find(doc, func(n *html.Node) bool { return attr(n, "id") == id })
		require.Len(t, secs, 1, id)
		text := texts(secs[0])
		for code, n := range want {
			assert.Contains(t, text, code, "%s shows %s", id, code)
			assert.Contains(t, text, fmt.Sprint(n), "%s shows the count of %s", id, code)
		}
	}
}

// TestReportLoadsNothing checks the report names no network address: no
// attribute but the SVG namespaces holds a URL, and nothing is loaded.
func TestReportLoadsNothing(t *testing.T) {
	old, cur, results := fixture(t)
	doc, raw := parseReport(t, Options{Files: []string{old, cur}, Results: []string{results}})
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		assert.NotContains(t, []string{"script", "link", "img", "iframe", "object", "embed", "base"}, n.Data, "element <%s>", n.Data)
		for _, a := range n.Attr {
			if a.Key == "xmlns" || a.Namespace == "xmlns" || strings.HasPrefix(a.Key, "xmlns:") {
				continue
			}
			v := strings.ToLower(strings.TrimSpace(a.Val))
			assert.False(t, strings.Contains(v, "://") || strings.HasPrefix(v, "//") || strings.Contains(v, "url("),
				"<%s %s=%q> names an address", n.Data, a.Key, a.Val)
		}
	}
	for _, s := range find(doc, tag("style")) {
		assert.NotContains(t, texts(s), "url(")
		assert.NotContains(t, texts(s), "@import")
	}
	// Any URL left in the text is an SVG namespace.
	stripped := strings.NewReplacer(`"http://www.w3.org/2000/svg"`, "", `"http://www.w3.org/1999/xlink"`, "").Replace(raw)
	assert.NotContains(t, stripped, "://")
}

func TestReportWritesPlotFiles(t *testing.T) {
	old, cur, _ := fixture(t)
	dir := t.TempDir()
	// No history: rasterizing thousands of points is slow under -race.
	doc, _ := parseReport(t, Options{Files: []string{old, cur}, PlotDir: dir})
	for _, s := range find(doc, tag("section")) {
		for _, ext := range []string{".svg", ".png"} {
			data, err := os.ReadFile(filepath.Join(dir, attr(s, "id")+ext))
			if assert.NoError(t, err) {
				assert.NotEmpty(t, data)
			}
		}
	}
	png, err := os.ReadFile(filepath.Join(dir, "comparison.png"))
	require.NoError(t, err)
	assert.Equal(t, "\x89PNG", string(png[:4]))
}

func TestReportOfOneFileHasNoComparison(t *testing.T) {
	old, _, _ := fixture(t)
	doc, _ := parseReport(t, Options{Files: []string{old}})
	ids := []string{}
	for _, s := range find(doc, tag("section")) {
		ids = append(ids, attr(s, "id"))
	}
	assert.Equal(t, []string{"percentiles-Standard-batch=10-block=10-conc=1-2"}, ids)
	assert.Len(t, find(doc, func(n *html.Node) bool { return attr(n, "class") == "config" }), 1, "the configuration table")
	assert.Contains(t, texts(doc), "Test CPU")
}

func TestReportSkipsOtherCSV(t *testing.T) {
	_, _, results := fixture(t)
	other := filepath.Join(results, "mock", "default", "noop", "old-format.csv")
	require.NoError(t, os.WriteFile(other, []byte(",time,code,elapsed,n_processes,n_calls,batch_size,block_size,world_size\n"), 0o644))
	var warn bytes.Buffer
	parseReport(t, Options{Results: []string{results}, Warn: &warn})
	assert.Contains(t, warn.String(), "old-format.csv: skipped: history: ")
	assert.Contains(t, warn.String(), "without start_time")
}

func TestReportRefusesMalformedHistory(t *testing.T) {
	_, _, results := fixture(t)
	bad := filepath.Join(results, "mock", "default", "noop", "queries.csv")
	require.NoError(t, os.WriteFile(bad, []byte(history.Header+"\n0,0.1,1,0.1,1,5,10,10,1,17\n1,fast,1,0.2,1,5,10,10,1,17\n"), 0o644))
	err := Write(&bytes.Buffer{}, Options{Results: []string{results}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad+`:3: column time: value "fast": want a decimal number of seconds`)
}

// TestScatterKeepsOutliersAndSample checks the scatter's downsampling: every
// query above p99 is kept, the rest is a uniform sample of sampleSize, and
// the sampling note says so.
func TestScatterKeepsOutliersAndSample(t *testing.T) {
	g := newGroup(groupKey{})
	const n = 100_000
	for i := range n {
		lat := 0.001 + 0.001*float64(i%1000)/1000 // 1 to 2 ms
		if i%200 == 0 {
			lat = 0.5 + float64(i)/n // 0.5% of queries are slow
		}
		g.add(query{latency: lat, elapsed: float64(i) / 1000, code: 1})
	}
	s := g.scatter()
	assert.False(t, s.capped)
	slow, aboveP99 := 0, 0
	for _, p := range s.outliers {
		if p.latency >= 0.5 {
			slow++
		}
		if p.latency > s.p99 {
			aboveP99++
		}
	}
	assert.Equal(t, n/200, slow, "every slow query is kept")
	assert.Equal(t, len(s.outliers), aboveP99, "the outliers are above p99")
	assert.InDelta(t, n/100, len(s.outliers), n/1000, "about 1% of the queries are above p99")
	assert.Greater(t, len(s.sample), sampleSize*97/100, "the sample keeps nearly all of its slots")
	assert.LessOrEqual(t, len(s.sample), sampleSize)
	belowP99 := 0
	for _, p := range s.sample {
		if p.latency <= s.p99 {
			belowP99++
		}
	}
	assert.Equal(t, len(s.sample), belowP99, "the sample holds no outlier twice")
	// The sample is uniform over time: each half of the run holds about half.
	first := 0
	for _, p := range s.sample {
		if p.elapsed < n/2000 {
			first++
		}
	}
	assert.InDelta(t, len(s.sample)/2, first, float64(len(s.sample))/10)
	assert.Equal(t, fmt.Sprintf("drawn: all %d queries above p99 = %s, and a uniform sample of %d of the other %d",
		len(s.outliers), seconds(s.p99), len(s.sample), n-len(s.outliers)), sampling(g, s))
}

func TestScatterCapsOutliers(t *testing.T) {
	g := newGroup(groupKey{})
	g.maxSlow = 100 // as maxOutliers, scaled down with the history
	const n = 20_000
	for i := range n {
		g.add(query{latency: float64(i%n) * 1e-6, elapsed: float64(i) / 1e2, code: 1})
	}
	for range g.maxSlow {
		g.add(query{latency: 2, elapsed: 100, code: 1})
	}
	s := g.scatter()
	assert.True(t, s.capped, "the queries above p99 exceed the cap")
	assert.Len(t, s.outliers, g.maxSlow)
	for _, p := range s.outliers {
		assert.Equal(t, 2.0, p.latency, "the slowest are kept")
	}
	assert.Len(t, g.pool, sampleSize, "the sample stays within its size")
	assert.Contains(t, sampling(g, s), fmt.Sprintf("the %d slowest queries (a cap", g.maxSlow))
	assert.LessOrEqual(t, len(g.bins), maxBins, "bins merge to stay within maxBins")
	total := int64(0)
	for _, c := range g.bins {
		total += c
	}
	assert.Equal(t, int64(n+g.maxSlow), total, "merged bins keep every query")
}

func TestThroughputOverRuns(t *testing.T) {
	g := newGroup(groupKey{})
	// Two runs of 2000 queries, the first at one per ms, the second at one
	// per 2 ms, so it lasts twice as long.
	for i := range 2000 {
		g.add(query{start: 1, elapsed: float64(i) * 0.001, latency: 0.001, code: 1})
	}
	for i := range 2000 {
		g.add(query{start: 2, elapsed: float64(i) * 0.002, latency: 0.001, code: 1})
	}
	starts, rates, perBin := g.throughput()
	require.Len(t, starts, len(rates))
	// Bins widen from 16 ms (4 s in at most 256 bins) until a run's bin
	// holds 25 queries or more: 64 ms, 63 bins of about 32.
	assert.Equal(t, 0.064, g.binWidth)
	assert.Len(t, rates, 63)
	assert.InDelta(t, 2000.0/63, perBin, 1e-9)
	mean := func(from, to float64) float64 {
		sum, n := 0.0, 0
		for i, r := range rates {
			if starts[i] >= from && starts[i]+g.binWidth <= to {
				sum += r
				n++
			}
		}
		return sum / float64(n)
	}
	// While both run: the first at 1000/s, the second at 500/s, 750/s a run.
	assert.InDelta(t, 750, mean(0, 1.9), 10)
	// Once the first has ended, only the second counts: 500/s.
	assert.InDelta(t, 500, mean(2.1, 3.9), 10)
	// The last bin, which the second run lasted 30 ms of, is not read low:
	// its 16 queries over those 30 ms, where over the whole 64 ms bin they
	// would read 250/s.
	assert.InEpsilon(t, 500, rates[len(rates)-1], 0.1)
}

// TestFewQueriesKeepEightBins checks a short run keeps 8 bins however few
// queries each holds.
func TestFewQueriesKeepEightBins(t *testing.T) {
	g := newGroup(groupKey{})
	for i := range 100 {
		g.add(query{start: 1, elapsed: float64(i) * 0.01, latency: 0.01, code: 1})
	}
	_, rates, perBin := g.throughput()
	assert.Len(t, rates, 8)
	assert.InDelta(t, 12.5, perBin, 1e-9)
}

// TestComparisonFoldsUnchangedRows compares three files, the second lacking
// the flaky miner's benchmark: the chart shows only the rows with a
// significant change, largest first, and says how many it folded away.
func TestComparisonFoldsUnchangedRows(t *testing.T) {
	old, cur, _ := fixture(t)
	mid := filepath.Join(t.TempDir(), "mid.txt")
	require.NoError(t, os.WriteFile(mid, []byte(benchHeader+benchLines("noop", 6, 0.0022)), 0o644))
	doc, _ := parseReport(t, Options{Files: []string{old, mid, cur}})
	secs := find(doc, func(n *html.Node) bool { return attr(n, "id") == "comparison" })
	require.Len(t, secs, 1)
	svgs := find(secs[0], tag("svg"))
	require.Len(t, svgs, 1)

	// noop's metrics changed by 10% and 25%, but for success-%; flaky's did
	// not.
	var rows []string
	for _, line := range strings.Split(texts(svgs[0]), "\n") {
		if strings.HasPrefix(line, "Standard/") {
			rows = append(rows, line)
		}
	}
	// The axis lists its rows bottom to top: queries/s, whose change is
	// 1/1.25-1 = -20%, below the others, +25% each.
	n := "Standard/miner=noop/batch=10/block=10/conc=1-2  "
	assert.Equal(t, []string{n + "queries/s", n + "p99-sec", n + "p90-sec", n + "p50-sec", n + "sec/op"}, rows)
	assert.Contains(t, texts(secs[0]), "7 rows with no significant change folded away")
	for _, key := range []string{"filled: significant change", "hollow: no significant change", "bar: 95% interval of the change"} {
		assert.Contains(t, texts(svgs[0]), key, "the legend explains the markers")
	}
}

// TestPercentileAxisGoesLogForMinersApart checks the latency axis turns
// logarithmic when the miners' medians differ more than tenfold (noop's
// 1 ms beside the template's 40 ms), or a tail reaches ten times the
// median, and stays linear otherwise.
func TestPercentileAxisGoesLogForMinersApart(t *testing.T) {
	qs := []float64{0.5, 0.9, 0.99}
	noop := curve{label: "noop", qs: qs, ys: []float64{0.001, 0.0015, 0.003}, points: true}
	template := curve{label: "template", qs: qs, ys: []float64{0.040, 0.045, 0.06}, points: true}
	near := curve{label: "near", qs: qs, ys: []float64{0.002, 0.003, 0.006}, points: true}
	tail := curve{label: "tail", qs: qs, ys: []float64{0.002, 0.003, 0.1}, points: true}
	for _, tc := range []struct {
		curves []curve
		log    bool
	}{{[]curve{noop, template}, true}, {[]curve{noop, near}, false}, {[]curve{template}, false}, {[]curve{tail}, true}} {
		p, err := percentilePlot("t", tc.curves)
		require.NoError(t, err)
		_, isLog := p.Y.Scale.(plot.LogScale)
		assert.Equal(t, tc.log, isLog, "%d curves", len(tc.curves))
		assert.Equal(t, tc.log, strings.HasSuffix(p.Title.Text, "\nlatency on a log scale"), p.Title.Text)
		if tc.log {
			var labels []string
			for _, tk := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
				if tk.Label != "" {
					labels = append(labels, tk.Label)
				}
			}
			assert.Contains(t, labels, "10 ms", "the ticks carry the unit")
		}
		if tc.log {
			lo, hi := math.Inf(1), 0.0
			for _, c := range tc.curves {
				lo, hi = min(lo, slices.Min(c.ys)), max(hi, slices.Max(c.ys))
			}
			assert.Less(t, p.Y.Min, 1e3*lo, "the fastest latency is on the axis (ms)")
			assert.Greater(t, p.Y.Max, 1e3*hi, "so is the slowest")
		}
	}
}
