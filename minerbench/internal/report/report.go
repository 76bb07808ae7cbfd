// Package report writes minerbench's HTML report: plots of benchmark results
// (benchfmt files) and of the per-query histories behind them.
//
// The report opens with its answer: for two files or more, the verdict on
// each later file against the first, as package gate judges it; for one, a
// summary per benchmark and miner. Then come its plots, grouped by
// benchmark. Each run of a history is shown as the run of the benchmark
// file that produced it, found by the file's results directory or by the
// time it started; runs of no file are shown apart.
//
// The report is one self-contained HTML file: its plots are inline SVG drawn
// with gonum/plot, it loads nothing, and it opens offline. Histories are
// streamed, so a report of any length of history takes bounded memory: each
// scatter draws every query above the 99th percentile and a uniform sample of
// the others, and says so.
package report

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/compare"
	"github.com/minerbench/minerbench/minerbench/internal/gate"
	"github.com/minerbench/minerbench/minerbench/internal/history"
)

// Options say what a report shows and where its plots go.
type Options struct {
	// Files are benchfmt files (each a path or label=path, as benchstat
	// takes them), compared in this order.
	Files []string
	// Results are the results directories holding the CSV histories, each a
	// path or LABEL=path: the runs of a directory labelled as a file are
	// that file's.
	Results []string
	// Judge says which changes the verdict reports, as the gate judges them.
	Judge gate.Options
	// Gate shows the gate's pass or fail beside the verdict.
	Gate bool
	// PlotDir, when set, receives every plot as an SVG and a PNG file.
	PlotDir string
	// Warn receives what the report leaves out and why (skipped files).
	Warn io.Writer
}

// Write builds the report of opts and writes its HTML to w.
func Write(w io.Writer, opts Options) error {
	if len(opts.Files) == 0 && len(opts.Results) == 0 {
		return fmt.Errorf("report: nothing to report: want benchfmt files, a results directory or both")
	}
	warn := func(msg string) {
		if opts.Warn != nil {
			fmt.Fprintln(opts.Warn, "report: "+msg)
		}
	}
	page := page{Generated: time.Now().UTC().Format(time.RFC3339), Files: opts.Files, Results: opts.Results}
	var set *compare.Set
	if len(opts.Files) > 0 {
		var err error
		if set, err = compare.Read(opts.Files, nil); err != nil {
			return err
		}
		page.Config = configTable(set)
		page.Verdicts = verdicts(set, opts)
		if len(set.Files) == 1 {
			page.Summary = summaryTable(set)
		}
	}
	attr, err := newAttribution(set, opts.Files)
	if err != nil {
		return err
	}
	var groups []*group
	if len(opts.Results) > 0 {
		var err error
		if groups, err = readHistories(resultsDirs(opts.Results), attr, warn); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if len(groups) == 0 {
			warn(fmt.Sprintf("no history under %s: want <network>/<wallet>/<miner>/*.csv with the header %q",
				strings.Join(opts.Results, ", "), history.Header))
		}
		page.Runs = runsTable(groups)
		page.Attribution = attr.how()
	}

	parts, err := sections(set, groups)
	if err != nil {
		return err
	}
	for _, part := range parts {
		pg := pageGroup{ID: "group-" + slugify(part.title), Title: part.title}
		for _, f := range part.sections {
			svg, err := f.fig.svg()
			if err != nil {
				return fmt.Errorf("report: plot %s: %w", f.fig.name, err)
			}
			pg.Sections = append(pg.Sections, pageSection{ID: f.fig.name, Kind: f.kind, Title: f.title,
				Caption: f.caption, SVG: template.HTML(svg), Text: f.text})
			if opts.PlotDir != "" {
				if err := writePlot(opts.PlotDir, f.fig, svg); err != nil {
					return err
				}
			}
		}
		page.Groups = append(page.Groups, pg)
	}
	return pageTemplate.Execute(w, page)
}

// resultsDirs splits LABEL=DIR arguments.
func resultsDirs(args []string) []resultsDir {
	out := make([]resultsDir, len(args))
	for i, a := range args {
		out[i] = resultsDir{label: a, path: a}
		if l, p, ok := strings.Cut(a, "="); ok {
			out[i] = resultsDir{label: l, path: p}
		}
	}
	return out
}

// writePlot writes a figure as dir/name.svg and dir/name.png.
func writePlot(dir string, f figure, svg []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: -svg: %w", err)
	}
	png, err := f.png()
	if err != nil {
		return fmt.Errorf("report: plot %s: %w", f.name, err)
	}
	for ext, data := range map[string][]byte{".svg": svg, ".png": png} {
		if err := os.WriteFile(filepath.Join(dir, f.name+ext), data, 0o644); err != nil {
			return fmt.Errorf("report: -svg: %w", err)
		}
	}
	return nil
}

// section is one plot of the report with its words.
type section struct {
	kind, title, caption string
	// text is preformatted text shown under the plot (benchstat's tables).
	text string
	fig  figure
}

// part is a group of sections under one heading of the contents: a
// benchmark, the runs of no benchmark file, the comparison.
type part struct {
	title    string
	sections []section
}

// sections builds every plot, grouped: with two files or more the
// comparison first, then per benchmark its percentile plot and the
// timeline and return codes of each history of its runs, then the
// histories of no benchmark file.
func sections(set *compare.Set, groups []*group) ([]part, error) {
	var out []part
	if set != nil && len(set.Files) > 1 {
		s, err := comparisonSection(set)
		if err != nil {
			return nil, err
		}
		if s != nil {
			out = append(out, part{title: "All changes", sections: []section{*s}})
		}
	}
	used := map[*group]bool{}
	for _, b := range benchGroups(set) {
		curves := b.curves(len(set.Files) > 1)
		var mine []*group
		for _, g := range groups {
			if g.key.source != "" && b.matches(g.key) {
				// Two benchmarks of one load (Standard and Concurrency at
				// conc=1) share its history: each plots its curve, the first
				// its timeline.
				curves = append(curves, historyCurve(g))
				if !used[g] {
					mine = append(mine, g)
				}
				used[g] = true
			}
		}
		s, err := percentileSection("Latency percentiles: "+b.name, curves,
			"Dashed lines join the medians, over the runs of each file, of the benchmark's p50-ns, p90-ns and p99-ns; "+
				"solid lines are the whole distribution of the queries of each file's runs in the histories, at the same batch, block and conc.")
		if err != nil {
			return nil, err
		}
		secs, err := historySections(mine)
		if err != nil {
			return nil, err
		}
		out = append(out, part{title: b.name, sections: append([]section{s}, secs...)})
	}
	var rest []*group
	for _, g := range groups {
		if !used[g] {
			rest = append(rest, g)
		}
	}
	if len(rest) > 0 {
		secs, err := unmatchedSections(rest)
		if err != nil {
			return nil, err
		}
		title := "Runs of no benchmark file"
		if set == nil {
			title = "Histories"
		}
		out = append(out, part{title: title, sections: secs})
	}
	return out, nil
}

// unmatchedSections are the plots of histories of no benchmark: a
// percentile plot per history file and load, overlaying the miners, then
// each history's timeline and return codes.
func unmatchedSections(groups []*group) ([]section, error) {
	type loadKey struct {
		file, source, dir  string
		batch, block, conc int
		orphan             bool
	}
	var loads []loadKey
	byLoad := map[loadKey][]*group{}
	for _, g := range groups {
		l := loadKey{g.key.file, g.key.source, g.key.dir, g.key.batch, g.key.block, g.key.conc, g.key.orphan}
		if byLoad[l] == nil {
			loads = append(loads, l)
		}
		byLoad[l] = append(byLoad[l], g)
	}
	var out []section
	for _, l := range loads {
		var curves []curve
		for _, g := range byLoad[l] {
			curves = append(curves, historyCurve(g))
		}
		title := fmt.Sprintf("Latency percentiles: %s batch=%d block=%d conc=%d%s", l.file, l.batch, l.block, l.conc,
			sourceTitle(groupKey{source: l.source, dir: l.dir, orphan: l.orphan}))
		s, err := percentileSection(title, curves, "Each line is the whole latency distribution of a miner's queries in its history.")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	secs, err := historySections(groups)
	return append(out, secs...), err
}

// historySections are each group's timeline and return codes.
func historySections(groups []*group) ([]section, error) {
	var out []section
	for _, g := range groups {
		slug := slugify(groupTitle(g.key))
		fig, err := timeline("timeline-"+slug, g)
		if err != nil {
			return nil, err
		}
		out = append(out, section{kind: "timeline", title: "Over time: " + groupTitle(g.key), fig: fig,
			caption: fmt.Sprintf("%d queries in %d run%s (n_calls %s, world_size %s). Above: each query's latency at the time it was recorded, coloured by return code; "+
				"runs are overlaid from their start. Below: queries recorded per second, over the runs that lasted into each bin.",
				g.n, len(g.runs), plural(len(g.runs)), setString(g.calls), setString(g.world))})
		p, err := codesPlot(g)
		if err != nil {
			return nil, err
		}
		out = append(out, section{kind: "codes", title: "Return codes: " + groupTitle(g.key),
			fig:     single("codes-"+slug, p, plotWidth, codesHeight(len(g.codes))),
			caption: "Queries per Bittensor return code; 1, Success, is the only answer that counts as answered."})
	}
	return out, nil
}

// comparisonSection is the chart of the changes with benchstat's tables,
// or nil when no benchmark is in two files.
func comparisonSection(set *compare.Set) (*section, error) {
	ds := deltas(set)
	if len(ds) == 0 {
		return nil, nil
	}
	fig, folded, err := deltaFigure(set, ds)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	if err := compare.Text(&text, set.Tables, nil); err != nil {
		return nil, err
	}
	return &section{kind: "comparison", title: "Comparison: " + strings.Join(shortNames(set.Files), " vs "),
		fig: fig, text: text.String(),
		caption: fmt.Sprintf("Every metric benchstat compares, significant or not at its own α = 0.05 (uncorrected, unlike the verdict above), "+
			"largest change first; %s. "+
			"Below, benchstat's tables: medians with their 95%% confidence intervals, and the change from the first file "+
			"with the Mann-Whitney U test's p-value (~ is no significant change).", folded)}, nil
}

func percentileSection(title string, curves []curve, caption string) (section, error) {
	p, err := percentilePlot(title, curves)
	if err != nil {
		return section{}, err
	}
	return section{kind: "percentiles", title: title, caption: caption,
		fig: withLegend("percentiles-"+slugify(strings.TrimPrefix(title, "Latency percentiles: ")), p, plotWidth, plotHeight)}, nil
}

// historyCurve is a group's latency distribution, sampled at quantiles
// evenly spaced on the percentile plot's log axis.
func historyCurve(g *group) curve {
	const n = 200
	c := curve{label: fmt.Sprintf("%s: history %s%s, %d queries", g.key.miner, g.key.file, sourceTitle(g.key), g.n)}
	for i := 0; i <= n; i++ {
		x := math.Pow(10, maxNines*float64(i)/n)
		q := 1 - 1/x
		c.qs = append(c.qs, q)
		c.ys = append(c.ys, g.quantile(q))
	}
	return c
}

// benchGroup is the benchmarks that differ only in their miner= key.
type benchGroup struct {
	name string
	keys map[string]string
	// miners in order, and per miner and file the median quantiles.
	miners []string
	cells  map[string][]quantiles
	files  []string
}

// quantiles are a benchmark's median p50, p90 and p99 in one file, in
// seconds, and its number of runs; ok when all three are present.
type quantiles struct {
	ys   [3]float64
	have [3]bool
	runs int
}

var quantileUnits = [...]string{"p50-sec", "p90-sec", "p99-sec"}

// benchGroups collects the latency quantiles of the set's benchmarks,
// grouped by name without the miner key.
func benchGroups(set *compare.Set) []*benchGroup {
	if set == nil {
		return nil
	}
	var out []*benchGroup
	byName := map[string]*benchGroup{}
	for _, t := range set.Tables {
		qi := slices.Index(quantileUnits[:], t.Unit)
		if qi < 0 {
			continue
		}
		for _, r := range t.Rows {
			name, miner, keys := splitName(r.Name)
			b := byName[name]
			if b == nil {
				b = &benchGroup{name: name, keys: keys, cells: map[string][]quantiles{}, files: shortNames(set.Files)}
				byName[name] = b
				out = append(out, b)
			}
			if b.cells[miner] == nil {
				b.miners = append(b.miners, miner)
				b.cells[miner] = make([]quantiles, len(set.Files))
			}
			for j, c := range r.Cells {
				if c == nil {
					continue
				}
				fi := slices.Index(set.Files, t.Cols[j])
				q := &b.cells[miner][fi]
				q.ys[qi], q.have[qi], q.runs = c.Summary.Center, true, len(c.Sample.Values)
			}
		}
	}
	return out
}

// splitName splits a benchmark's full name into its name without the
// miner=… part, the miner, and its key=value parts.
func splitName(full string) (name, miner string, keys map[string]string) {
	parts := strings.Split(full, "/")
	keys = map[string]string{}
	var kept []string
	for i, p := range parts {
		if i == len(parts)-1 {
			// The last part carries the -GOMAXPROCS suffix.
			if j := strings.LastIndexByte(p, '-'); j > 0 && strings.Contains(p[:j], "=") {
				k, v, _ := strings.Cut(p[:j], "=")
				keys[k] = v
			}
		}
		if k, v, ok := strings.Cut(p, "="); ok && i > 0 {
			if _, seen := keys[k]; !seen {
				keys[k] = v
			}
			if k == "miner" {
				miner = v
				continue
			}
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "/"), miner, keys
}

// curves are the group's quantile curves, one per miner and file.
func (b *benchGroup) curves(byFile bool) []curve {
	var out []curve
	for _, m := range b.miners {
		for fi, q := range b.cells[m] {
			if !q.have[0] || !q.have[1] || !q.have[2] {
				continue
			}
			label := cmp.Or(m, "benchmark")
			if byFile {
				label += ", " + b.files[fi]
			}
			label += fmt.Sprintf(": medians of %d runs", q.runs)
			out = append(out, curve{label: label, qs: []float64{0.5, 0.9, 0.99}, ys: q.ys[:], points: true})
		}
	}
	return out
}

// matches reports whether a history group ran the group's load.
func (b *benchGroup) matches(k groupKey) bool {
	if b.keys["batch"] == "" {
		return false
	}
	_, miner := b.cells[k.miner]
	return miner && b.keys["batch"] == fmt.Sprint(k.batch) && b.keys["block"] == fmt.Sprint(k.block) &&
		b.keys["conc"] == fmt.Sprint(k.conc)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9=._-]+`)

// slugify makes a name safe as an HTML id and a file name.
func slugify(s string) string {
	return strings.Trim(unsafeChars.ReplaceAllString(s, "-"), "-")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func setString(m map[int]bool) string {
	var vs []int
	for v := range m {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return strings.Trim(fmt.Sprint(vs), "[]")
}

// page is what the template shows.
type page struct {
	Generated   string
	Files       []string
	Results     []string
	Verdicts    []verdictView
	Summary     [][]string
	Config      [][]string
	Runs        [][]string
	Attribution string
	Groups      []pageGroup
}

// pageGroup is a heading of the contents and its sections.
type pageGroup struct {
	ID, Title string
	Sections  []pageSection
}

type pageSection struct {
	ID, Kind, Title, Caption string
	SVG                      template.HTML
	Text                     string
}

// configTable is the files' configuration: a header row of the files, then
// one row per key.
func configTable(set *compare.Set) [][]string {
	rows := [][]string{append([]string{""}, set.Files...)}
	var keys []string
	for _, cfg := range set.Config {
		for _, kv := range cfg {
			if !slices.Contains(keys, kv.Key) {
				keys = append(keys, kv.Key)
			}
		}
	}
	for _, k := range keys {
		row := []string{k}
		for _, cfg := range set.Config {
			v := ""
			for _, kv := range cfg {
				if kv.Key == k {
					v = strings.Join(kv.Values, ", ")
				}
			}
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	return rows
}

// runsTable is the histories' loads: a header row, then one row per group.
func runsTable(groups []*group) [][]string {
	rows := [][]string{{"miner", "history", "runs of", "batch_size", "block_size", "n_processes", "n_calls", "world_size", "runs", "queries", "first run", "last run"}}
	for _, g := range groups {
		first, last := math.Inf(1), math.Inf(-1)
		for start := range g.runs {
			first, last = min(first, start), max(last, start)
		}
		stamp := func(s float64) string {
			return time.Unix(int64(s), 0).UTC().Format("2006-01-02 15:04:05Z")
		}
		rows = append(rows, []string{g.key.miner, g.key.file, cmp.Or(g.key.source, "no benchmark file"), fmt.Sprint(g.key.batch), fmt.Sprint(g.key.block),
			fmt.Sprint(g.key.conc), setString(g.calls), setString(g.world), fmt.Sprint(len(g.runs)), fmt.Sprint(g.n),
			stamp(first), stamp(last)})
	}
	return rows
}

//go:embed report.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("report").Parse(pageSource))
