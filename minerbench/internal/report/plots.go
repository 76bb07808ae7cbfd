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
	"github.com/minerbench/minerbench/minerbench/wire"
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
	top := 0.0
	for _, c := range curves {
		top = max(top, slices.Max(c.ys))
	}
	factor, unit := latencyScale(top)
	p.Y.Label.Text = "latency (" + unit + ")"
	// Room above the curves for the legend, a line per curve.
	p.Y.Min, p.Y.Max = 0, top*factor*(1.15+0.08*float64(len(curves)))
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	for i, c := range curves {
		xys := make(plotter.XYs, len(c.qs))
		for j := range c.qs {
			xys[j] = plotter.XY{X: percentileX(c.qs[j]), Y: c.ys[j] * factor}
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
	upper.Y.Min, upper.Y.Max = 0, top*factor*1.35
	upper.X.Min, upper.X.Max = 0, end
	upper.Add(plotter.NewGrid())
	upper.Legend.Top = true
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
	lower.X.Label.Text = fmt.Sprintf("time since the run's start (s); throughput counted in %s bins", binLabel(g.binWidth))
	lower.Y.Label.Text = "queries/s"
	lower.X.Min, lower.X.Max = upper.X.Min, upper.X.Max
	lower.Y.Min = 0
	lower.Add(plotter.NewGrid())
	starts, rates := g.throughput()
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

	return figure{name: name, w: plotWidth, h: plotHeight * 7 / 4, draw: func(c draw.Canvas) {
		// The scatter takes 60% of the height, the throughput the rest;
		// their data areas line up horizontally.
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
	return fmt.Sprintf("%s, %s, batch=%d block=%d conc=%d", k.miner, k.file, k.batch, k.block, k.conc)
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

// deltaPlot draws the deltas in percent, one row per benchmark metric and a
// colour per later file; hollow points are not significant ("~"). rows is
// the number of benchmark metrics, for deltaHeight: a file lacking some has
// fewer deltas than rows.
func deltaPlot(set *compare.Set, ds []delta) (p *plot.Plot, rows int, err error) {
	var labels []string
	row := map[string]int{}
	for _, d := range ds {
		if _, ok := row[d.label]; !ok {
			row[d.label] = len(labels)
			labels = append(labels, d.label)
		}
	}
	p = plot.New()
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
			if d.file != file {
				continue
			}
			y := float64(len(labels) - 1 - row[d.label])
			pts = append(pts, plotter.XY{X: 100 * d.d, Y: y})
			hollow = append(hollow, !d.significant)
			lo, hi = min(lo, 100*d.d), max(hi, 100*d.d)
			if !math.IsNaN(d.lo) {
				bars = append(bars, plotter.XY{X: 100 * d.d, Y: y})
				errs = append(errs, struct{ Low, High float64 }{100 * (d.d - d.lo), 100 * (d.hi - d.d)})
				lo, hi = min(lo, 100*d.lo), max(hi, 100*d.hi)
			}
		}
		col := palette(file - 1)
		if len(bars) > 0 {
			eb, err := plotter.NewXErrorBars(struct {
				plotter.XYs
				plotter.XErrors
			}{bars, errs})
			if err != nil {
				return nil, 0, err
			}
			eb.Color = col
			p.Add(eb)
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, 0, err
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
		p.Legend.Add(names[file], sc)
	}
	zero, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(len(labels)) - 0.5}})
	if err != nil {
		return nil, 0, err
	}
	zero.Color = color.Black
	p.Add(zero)
	slices.Reverse(labels)
	p.NominalY(labels...)
	p.Y.Max = float64(len(labels)) + 0.3 // a row's room for the legend
	pad := max((hi-lo)*0.08, 1)
	p.X.Min, p.X.Max = lo-pad, hi+pad
	p.Legend.Top = true
	return p, len(labels), nil
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
