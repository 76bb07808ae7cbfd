package report

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/minerbench/minerbench/minerbench/internal/compare"
	"github.com/minerbench/minerbench/minerbench/internal/wire"
)

func init() {
	// A sans-serif face reads better on screen than gonum's default serif.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotter.DefaultFont = plot.DefaultFont
}

// figure is one plot of the report, drawn on a canvas of its size.
type figure struct {
	// name is the figure's file name, without extension, under -svg.
	name string
	w, h vg.Length
	draw func(draw.Canvas)
}

// single is a figure of one plot.
func single(name string, p *plot.Plot, w, h vg.Length) figure {
	return figure{name: name, w: w, h: h, draw: p.Draw}
}

// svg renders f as SVG, without the XML declaration, to inline in HTML.
func (f figure) svg() ([]byte, error) {
	c := vgsvg.New(f.w, f.h)
	f.draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if i := bytes.Index(out, []byte("<svg")); i > 0 {
		out = out[i:]
	}
	return out, nil
}

// png renders f as PNG at 144 dots per inch.
func (f figure) png() ([]byte, error) {
	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(144))}
	f.draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Sizes of the figures.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 4 * vg.Inch
)

// latencyScale picks the unit latencies up to maxSeconds are shown in.
func latencyScale(maxSeconds float64) (factor float64, unit string) {
	switch {
	case maxSeconds < 1e-3:
		return 1e6, "µs"
	case maxSeconds < 1:
		return 1e3, "ms"
	}
	return 1, "s"
}

// curve is one line of a percentile plot.
type curve struct {
	label string
	// qs are quantiles (0 to 1), ys the latencies there, in seconds.
	qs, ys []float64
	// points marks a curve of a few measured quantiles: drawn dashed with
	// markers rather than as a continuous line.
	points bool
}

// maxNines is the highest percentile a percentile plot shows: 99.99%.
const maxNines = 4

// percentileX is the x coordinate of quantile q on a percentile plot,
// 1/(1-q), capped at the 99.99th percentile.
func percentileX(q float64) float64 {
	return min(1/(1-q), math.Pow(10, maxNines))
}

// percentilePlot draws latency against percentile, HdrHistogram style: x is
// 1/(1-q) on a log scale, labelled as percentiles.
func percentilePlot(title string, curves []curve) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile (log scale of 1/(1-q))"
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for i := 0; i <= maxNines; i++ {
		label := strconv.FormatFloat(100*(1-math.Pow(10, -float64(i))), 'f', max(i-2, 0), 64) + "%"
		ticks = append(ticks, plot.Tick{Value: math.Pow(10, float64(i)), Label: label})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 1, math.Pow(10, maxNines)
	top, bottom := 0.0, math.Inf(1)
	for _, c := range curves {
		top = max(top, slices.Max(c.ys))
		for _, y := range c.ys {
			if y > 0 {
				bottom = min(bottom, y)
			}
		}
	}
	factor, unit := latencyScale(top)
	p.Y.Label.Text = "latency (" + unit + ")"
	p.Y.Min, p.Y.Max = 0, top*factor*1.05
	floor := 0.0
	if spread(curves) > 10 {
		// Miners of different speed: on a linear axis the fast one is a
		// flat line at zero. The unit goes on the ticks and the scale in
		// the title: gonum places an axis label's room at the middle of the
		// data's values, high up on a log axis, and shrinks the plot to fit
		// it there.
		floor = bottom
		p.Title.Text += "\nlatency on a log scale"
		p.Y.Label.Text = ""
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = unitTicks{plot.LogTicks{Prec: -1}, unit}
		p.Y.Min, p.Y.Max = bottom*factor/1.3, top*factor*1.3
	}
	p.Add(plotter.NewGrid())
	for i, c := range curves {
		xys := make(plotter.XYs, len(c.qs))
		for j := range c.qs {
			xys[j] = plotter.XY{X: percentileX(c.qs[j]), Y: max(c.ys[j], floor) * factor}
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.Color = palette(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if c.points {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			marks, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			marks.Color = palette(i)
			marks.Radius = vg.Points(3)
			marks.Shape = draw.CircleGlyph{}
			p.Add(marks)
			thumbs = append(thumbs, marks)
		}
		p.Legend.Add(c.label, thumbs...)
	}
	return p, nil
}

// unitTicks are the ticks of a Ticker with a unit after each label.
type unitTicks struct {
	plot.Ticker
	unit string
}

// Ticks implements plot.Ticker.
func (u unitTicks) Ticks(min, max float64) []plot.Tick {
	ts := u.Ticker.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label += " " + u.unit
		}
	}
	return ts
}

// spread is the ratio of the largest latency of the curves to the smallest
// median: above 10, miners of different speed or a long tail would leave
// the fast miner, or the body of the distribution, a flat line at zero on
// a linear axis.
func spread(curves []curve) float64 {
	lo, hi := math.Inf(1), 0.0
	for _, c := range curves {
		hi = max(hi, slices.Max(c.ys))
		i := slices.IndexFunc(c.qs, func(q float64) bool { return q >= 0.5 })
		if i >= 0 && c.ys[i] > 0 {
			lo = min(lo, c.ys[i])
		}
	}
	return hi / lo
}

// palette is the i-th of a set of colours that tell apart on screen and in
// print (Tableau 10).
func palette(i int) color.Color {
	colors := []color.RGBA{
		{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
		{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
		{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
		{0x17, 0xbe, 0xcf, 0xff},
	}
	return colors[i%len(colors)]
}

// codeColor is the colour of a return code: green for Success, red for
// Timeout, the palette's others for the rest.
func codeColor(code int32) color.Color {
	switch wire.ReturnCode(code) {
	case wire.ReturnCode_Success:
		return palette(2)
	case wire.ReturnCode_Timeout:
		return palette(3)
	}
	others := []int{0, 1, 4, 5, 6, 7, 8, 9}
	return palette(others[int(code)%len(others)])
}

// codeName is a return code's Bittensor name.
func codeName(code int32) string { return wire.ReturnCode(code).String() }

// timeline draws a group's queries over time, one point per query coloured
// by return code, above the throughput per time bin.
func timeline(name string, g *group) (figure, error) {
	s := g.scatter()
	pts := append(slices.Clone(s.sample), s.outliers...)
	top, end := 0.0, 0.0
	for _, pt := range pts {
		top, end = max(top, pt.latency), max(end, pt.elapsed)
	}
	factor, unit := latencyScale(top)

	upper := plot.New()
	upper.Title.Text = "Latency of each query over time: " + groupTitle(g.key) + "\n" + sampling(g, s)
	upper.Y.Label.Text = "latency (" + unit + ")"
	upper.X.Label.Text = "time since the run's start (s)"
	upper.Y.Min, upper.Y.Max = 0, top*factor*1.05
	upper.X.Min, upper.X.Max = 0, end
	upper.Add(plotter.NewGrid())
	byCode := map[int32]plotter.XYs{}
	for _, pt := range pts {
		byCode[pt.code] = append(byCode[pt.code], plotter.XY{X: pt.elapsed, Y: pt.latency * factor})
	}
	for _, code := range sortedCodes(g.codes) {
		xys := byCode[code]
		if len(xys) == 0 {
			xys = plotter.XYs{}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return figure{}, err
		}
		sc.Shape = draw.CircleGlyph{}
		sc.Color = codeColor(code)
		sc.Radius = vg.Points(1.5)
		upper.Add(sc)
		upper.Legend.Add(fmt.Sprintf("%s (%d)", codeName(code), g.codes[code]), sc)
	}
	if len(g.runs) > 1 {
		upper.Legend.Add(fmt.Sprintf("%d runs overlaid", len(g.runs)))
	}

	lower := plot.New()
	starts, rates, perBin := g.throughput()
	lower.X.Label.Text = fmt.Sprintf("time since the run's start (s); throughput counted in %s bins, about %.0f queries a run each",
		binLabel(g.binWidth), perBin)
	lower.Y.Label.Text = "queries/s"
	lower.X.Min, lower.X.Max = upper.X.Min, upper.X.Max
	lower.Y.Min = 0
	lower.Add(plotter.NewGrid())
	var steps plotter.XYs
	for i := range starts {
		steps = append(steps, plotter.XY{X: starts[i], Y: rates[i]}, plotter.XY{X: min(starts[i]+g.binWidth, end), Y: rates[i]})
	}
	if len(steps) > 0 {
		line, err := plotter.NewLine(steps)
		if err != nil {
			return figure{}, err
		}
		line.Color = palette(0)
		line.Width = vg.Points(1.5)
		lower.Add(line)
		lower.Y.Max = slices.Max(rates) * 1.15
	}

	leg, lh := legendBelow(upper)
	return figure{name: name, w: plotWidth, h: plotHeight*7/4 + lh, draw: func(c draw.Canvas) {
		// The scatter takes 60% of the height, the throughput the rest;
		// their data areas line up horizontally. The legend is beneath.
		leg.Draw(draw.Crop(c, legendIndent, 0, 0, lh-(c.Max.Y-c.Min.Y)))
		c = draw.Crop(c, 0, 0, lh, 0)
		split := (c.Max.Y - c.Min.Y) * 2 / 5
		top := draw.Crop(c, 0, 0, split, 0)
		bottom := draw.Crop(c, 0, 0, 0, split-(c.Max.Y-c.Min.Y)-vg.Points(8))
		alignX(upper, &top, lower, &bottom)
		upper.Draw(top)
		lower.Draw(bottom)
	}}, nil
}

// alignX narrows canvases a and b so that the data areas of plots pa and pb
// drawn on them start and end at the same x.
func alignX(pa *plot.Plot, a *draw.Canvas, pb *plot.Plot, b *draw.Canvas) {
	da, db := pa.DataCanvas(*a), pb.DataCanvas(*b)
	la, lb := da.Min.X-a.Min.X, db.Min.X-b.Min.X
	ra, rb := a.Max.X-da.Max.X, b.Max.X-db.Max.X
	left, right := max(la, lb), max(ra, rb)
	*a = draw.Crop(*a, left-la, ra-right, 0, 0)
	*b = draw.Crop(*b, left-lb, rb-right, 0, 0)
}

// sampling says which queries a scatter draws.
func sampling(g *group, s scatter) string {
	if len(s.sample) == int(s.rest) {
		return fmt.Sprintf("every query drawn (%d)", g.n)
	}
	if s.capped {
		return fmt.Sprintf("drawn: the %d slowest queries (a cap: more lie above p99 = %s), and a uniform sample of %d of the other %d",
			len(s.outliers), seconds(s.p99), len(s.sample), s.rest)
	}
	return fmt.Sprintf("drawn: all %d queries above p99 = %s, and a uniform sample of %d of the other %d",
		len(s.outliers), seconds(s.p99), len(s.sample), s.rest)
}

// seconds formats a duration in seconds with a readable unit.
func seconds(s float64) string {
	factor, unit := latencyScale(s)
	return fmt.Sprintf("%.3g %s", s*factor, unit)
}

// binLabel names a bin width, e.g. "32 ms".
func binLabel(w float64) string {
	if w < 1 {
		return fmt.Sprintf("%.3g ms", w*1e3)
	}
	return fmt.Sprintf("%.3g s", w)
}

func sortedCodes(counts map[int32]int64) []int32 {
	codes := make([]int32, 0, len(counts))
	for c := range counts {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(a, b int32) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
	return codes
}

// groupTitle names a group: miner, history file and load.
func groupTitle(k groupKey) string {
	return fmt.Sprintf("%s, %s, batch=%d block=%d conc=%d%s", k.miner, k.file, k.batch, k.block, k.conc, sourceTitle(k))
}

// sourceTitle names where a group's runs come from: the benchmark file, or
// no file, and the results directory when there are several.
func sourceTitle(k groupKey) string {
	s := ""
	switch {
	case k.source != "":
		s = ", runs of " + filepath.Base(k.source)
	case k.orphan:
		s = ", runs of no benchmark file"
	}
	if k.dir != "" && k.dir != k.source {
		s += " (in " + k.dir + ")"
	}
	return s
}

// codesPlot draws the count of each return code of a group as horizontal
// bars, labelled with count and share.
func codesPlot(g *group) (*plot.Plot, error) {
	codes := sortedCodes(g.codes)
	slices.Reverse(codes) // the commonest at the top
	p := plot.New()
	p.Title.Text = "Return codes: " + groupTitle(g.key)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = "queries"
	p.Y.Label.Text = "return code"
	names := make([]string, len(codes))
	var labels plotter.XYLabels
	top := 0.0
	for i, c := range codes {
		names[i] = codeName(c)
		n := float64(g.codes[c])
		top = max(top, n)
		bar, err := plotter.NewBarChart(plotter.Values{n}, vg.Points(14))
		if err != nil {
			return nil, err
		}
		bar.Horizontal = true
		bar.XMin = float64(i)
		bar.Color = codeColor(c)
		bar.LineStyle.Width = 0
		p.Add(bar)
		labels.XYs = append(labels.XYs, plotter.XY{X: n, Y: float64(i)})
		labels.Labels = append(labels.Labels, fmt.Sprintf(" %d (%.1f%%)", g.codes[c], 100*n/float64(g.n)))
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].YAlign = draw.YCenter
	}
	p.Add(l)
	p.NominalY(names...)
	p.X.Min, p.X.Max = 0, top*1.3
	return p, nil
}

// codesHeight is the height of a return-code plot of n codes.
func codesHeight(n int) vg.Length {
	return vg.Points(float64(90 + 28*n))
}

// delta is one benchmark metric's change in the delta plot.
type delta struct {
	label       string
	file        int
	d, lo, hi   float64
	significant bool
}

// deltas lists the change of every metric of every benchmark of each
// later file from the first, with a conservative interval: the ratio of the
// new interval's bounds to the old's.
func deltas(set *compare.Set) []delta {
	var out []delta
	for _, t := range set.Tables {
		for _, r := range t.Rows {
			for j, c := range r.Cells {
				if c == nil || c.Baseline == nil {
					continue
				}
				d, significant, _ := c.Delta()
				if math.IsInf(d, 0) {
					continue
				}
				lo, hi := math.NaN(), math.NaN()
				if b := c.Baseline.Summary; b.Lo > 0 && !math.IsInf(b.Hi, 0) && !math.IsInf(c.Summary.Hi, 0) && !math.IsInf(c.Summary.Lo, 0) {
					lo, hi = c.Summary.Lo/b.Hi-1, c.Summary.Hi/b.Lo-1
				}
				out = append(out, delta{label: r.Name + "  " + t.Unit, file: j, d: d, lo: lo, hi: hi, significant: significant})
			}
		}
	}
	return out
}

// maxUnchanged is how many rows a comparison chart shows when no change is
// significant.
const maxUnchanged = 10

// foldDeltas orders the rows of ds, one per benchmark metric, by the
// largest change of any file, and keeps those with a significant change
// (the largest few when none is). It returns the rows kept and how many
// were folded away.
func foldDeltas(ds []delta) (labels []string, folded int) {
	size := map[string]float64{}
	significant := map[string]bool{}
	var all []string
	for _, d := range ds {
		if _, ok := size[d.label]; !ok {
			all = append(all, d.label)
		}
		size[d.label] = max(size[d.label], math.Abs(d.d))
		significant[d.label] = significant[d.label] || d.significant
	}
	slices.SortStableFunc(all, func(a, b string) int { return cmp.Compare(size[b], size[a]) })
	for _, l := range all {
		if significant[l] {
			labels = append(labels, l)
		}
	}
	if len(labels) == 0 {
		labels = all[:min(len(all), maxUnchanged)]
	}
	return labels, len(all) - len(labels)
}

// deltaFigure draws the deltas in percent, one row per benchmark metric
// with a significant change, largest first, and a colour per later file;
// hollow points are not significant ("~"). Its legend, beneath, explains
// the markers. folded says what was left out.
func deltaFigure(set *compare.Set, ds []delta) (f figure, folded string, err error) {
	labels, nFolded := foldDeltas(ds)
	row := map[string]int{}
	for i, l := range labels {
		row[l] = i
	}
	p := plot.New()
	names := shortNames(set.Files)
	p.Title.Text = "Change of each metric from " + names[0]
	p.X.Label.Text = "change (%)"
	p.Add(plotter.NewGrid())
	lo, hi := 0.0, 0.0
	for file := 1; file < len(set.Files); file++ {
		var pts, bars plotter.XYs
		var errs plotter.XErrors
		var hollow []bool
		for _, d := range ds {
			r, ok := row[d.label]
			if d.file != file || !ok {
				continue
			}
			y := float64(len(labels) - 1 - r)
			pts = append(pts, plotter.XY{X: 100 * d.d, Y: y})
			hollow = append(hollow, !d.significant)
			lo, hi = min(lo, 100*d.d), max(hi, 100*d.d)
			if !math.IsNaN(d.lo) {
				bars = append(bars, plotter.XY{X: 100 * d.d, Y: y})
				errs = append(errs, struct{ Low, High float64 }{100 * (d.d - d.lo), 100 * (d.hi - d.d)})
				lo, hi = min(lo, 100*d.lo), max(hi, 100*d.hi)
			}
		}
		if err := addDeltas(p, pts, bars, errs, hollow, palette(file-1), names[file]+" against "+names[0]); err != nil {
			return figure{}, "", err
		}
	}
	if err := addMarkerKey(p); err != nil {
		return figure{}, "", err
	}
	zero, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(len(labels)) - 0.5}})
	if err != nil {
		return figure{}, "", err
	}
	zero.Color = color.Black
	p.Add(zero)
	ticks := slices.Clone(labels)
	slices.Reverse(ticks)
	p.NominalY(ticks...)
	pad := max((hi-lo)*0.08, 1)
	p.X.Min, p.X.Max = lo-pad, hi+pad
	folded = fmt.Sprintf("%d rows with no significant change folded away", nFolded)
	if len(labels) > 0 && !slices.ContainsFunc(ds, func(d delta) bool { return d.significant }) {
		folded = fmt.Sprintf("no change is significant: the %d largest shown, %d more folded away", len(labels), nFolded)
	}
	return withLegend("comparison", p, plotWidth, deltaHeight(len(labels))), folded, nil
}

// addDeltas adds one file's changes to p: a point each, filled when
// significant, and its interval.
func addDeltas(p *plot.Plot, pts, bars plotter.XYs, errs plotter.XErrors, hollow []bool, col color.Color, name string) error {
	if len(bars) > 0 {
		eb, err := plotter.NewXErrorBars(struct {
			plotter.XYs
			plotter.XErrors
		}{bars, errs})
		if err != nil {
			return err
		}
		eb.Color = col
		p.Add(eb)
	}
	if len(pts) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
		shape := draw.GlyphDrawer(draw.CircleGlyph{})
		if hollow[i] {
			shape = draw.RingGlyph{}
		}
		return draw.GlyphStyle{Color: col, Radius: vg.Points(3.5), Shape: shape}
	}
	sc.Color, sc.Radius, sc.Shape = col, vg.Points(3.5), draw.CircleGlyph{}
	p.Add(sc)
	p.Legend.Add(name, sc)
	return nil
}

// addMarkerKey adds legend entries that explain the chart's markers.
func addMarkerKey(p *plot.Plot) error {
	grey := color.Gray{Y: 0x60}
	for _, k := range []struct {
		label string
		shape draw.GlyphDrawer
	}{
		{"filled: significant change (benchstat, p ≤ 0.05)", draw.CircleGlyph{}},
		{"hollow: no significant change", draw.RingGlyph{}},
	} {
		sc, err := plotter.NewScatter(plotter.XYs{})
		if err != nil {
			return err
		}
		sc.Color, sc.Radius, sc.Shape = grey, vg.Points(3.5), k.shape
		p.Legend.Add(k.label, sc)
	}
	bar, err := plotter.NewLine(plotter.XYs{})
	if err != nil {
		return err
	}
	bar.Color = grey
	p.Legend.Add("bar: 95% interval of the change (the ratio of the new interval's bounds to the old's)", bar)
	return nil
}

// withLegend is a figure of p, w wide and h tall, with p's legend moved
// out of the data area to beneath the plot.
func withLegend(name string, p *plot.Plot, w, h vg.Length) figure {
	leg, lh := legendBelow(p)
	return figure{name: name, w: w, h: h + lh, draw: func(c draw.Canvas) {
		p.Draw(draw.Crop(c, 0, 0, lh, 0))
		leg.Draw(draw.Crop(c, legendIndent, 0, 0, lh-(c.Max.Y-c.Min.Y)))
	}}
}

// legendIndent is the legend's left margin.
const legendIndent = vg.Length(36)

// legendBelow takes p's legend out of p, to be drawn beneath it, and
// returns it with the height it needs.
func legendBelow(p *plot.Plot) (plot.Legend, vg.Length) {
	leg := p.Legend
	p.Legend = plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.Padding = vg.Points(2)
	r := leg.Rectangle(draw.Canvas{})
	return leg, r.Max.Y - r.Min.Y + vg.Points(10)
}

// shortNames are the base names of files when those tell them apart, for
// legends; the files themselves otherwise.
func shortNames(files []string) []string {
	names := make([]string, len(files))
	seen := map[string]bool{}
	for i, f := range files {
		names[i] = filepath.Base(f)
		if seen[names[i]] {
			return files
		}
		seen[names[i]] = true
	}
	return names
}

// deltaHeight is the height of a delta plot of n rows.
func deltaHeight(n int) vg.Length {
	return vg.Points(float64(110 + 20*n))
}
