package report

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/minerbench/minerbench/minerbench/internal/history"
)

// query is one row of a history, as the plots use it.
type query struct {
	// latency is the query's time in seconds (the column "time"), elapsed
	// the seconds since its run started, start the Unix seconds of its run's
	// start (one value per run).
	latency, elapsed, start          float64
	code                             int32
	conc, calls, batch, block, world int
}

// readHistory streams the rows of the history in r to fn, through the
// history package's reader, the one owner of the format. name is the file
// name its errors carry.
func readHistory(r io.Reader, name string, fn func(query)) error {
	hr := history.NewReader(r, name)
	for {
		row, err := hr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(query{
			latency: row.Latency.Seconds(),
			elapsed: row.Elapsed.Seconds(),
			start:   history.UnixSeconds(row.Start),
			code:    int32(row.Code),
			conc:    row.NProcesses,
			calls:   row.NCalls,
			batch:   row.BatchSize,
			block:   row.BlockSize,
			world:   row.WorldSize,
		})
	}
}

// groupKey identifies the queries of one miner under one load, in one
// history file, from the runs of one benchmark file.
type groupKey struct {
	miner, file        string
	batch, block, conc int
	// source is the label of the benchmark file the runs belong to, "" for
	// runs of no file; dir labels the results directory when the report
	// reads more than one.
	source, dir string
	// orphan marks runs of no file when there are files.
	orphan bool
}

// load is the miner and load of the group's queries.
func (k groupKey) load() load { return load{k.miner, k.batch, k.block, k.conc} }

// Bounds of what a group keeps, however long its history.
const (
	// maxOutliers is how many of the slowest queries a group keeps: every
	// query above p99 of a history of up to a million.
	maxOutliers = 10_000
	// sampleSize is the size of the uniform sample of the other queries.
	sampleSize = 5000
	// maxBins bounds the throughput bins of a group.
	maxBins = 256
)

// point is one query as the scatter draws it.
type point struct {
	elapsed, latency float64
	code             int32
}

// group summarizes a group's queries in bounded memory: a latency
// histogram, the slowest queries, a uniform sample of all, counts per return
// code and per time bin, and its runs.
type group struct {
	key  groupKey
	n    int64
	hist *hdrhistogram.Histogram
	// slow holds the slowest queries, up to maxSlow (maxOutliers).
	slow    slowest
	maxSlow int
	pool    []point
	rng     *rand.Rand
	codes   map[int32]int64
	// bins count the queries per binWidth seconds of their runs.
	bins     []int64
	binWidth float64
	// runs maps each run's start to its last elapsed time.
	runs  map[float64]float64
	calls map[int]bool
	world map[int]bool
}

// histogram range, in microseconds: 1 µs to one hour, 3 significant digits.
const (
	histMin = 1
	histMax = 3600e6
)

func newGroup(key groupKey) *group {
	return &group{
		key:      key,
		hist:     hdrhistogram.New(histMin, histMax, 3),
		maxSlow:  maxOutliers,
		rng:      rand.New(rand.NewPCG(1, 2)),
		codes:    map[int32]int64{},
		bins:     make([]int64, 0, maxBins),
		binWidth: 0.001,
		runs:     map[float64]float64{},
		calls:    map[int]bool{},
		world:    map[int]bool{},
	}
}

func (g *group) add(q query) {
	g.n++
	us := int64(math.Round(q.latency * 1e6))
	_ = g.hist.RecordValue(min(max(us, histMin), histMax))
	p := point{q.elapsed, q.latency, q.code}
	if len(g.slow) < g.maxSlow {
		heap.Push(&g.slow, p)
	} else if p.latency > g.slow[0].latency {
		g.slow[0] = p
		heap.Fix(&g.slow, 0)
	}
	if len(g.pool) < sampleSize {
		g.pool = append(g.pool, p)
	} else if i := g.rng.Int64N(g.n); i < sampleSize {
		g.pool[i] = p
	}
	g.codes[q.code]++
	for q.elapsed >= g.binWidth*maxBins {
		g.widen()
	}
	i := int(q.elapsed / g.binWidth)
	for len(g.bins) <= i {
		g.bins = append(g.bins, 0)
	}
	g.bins[i]++
	if end, ok := g.runs[q.start]; !ok || q.elapsed > end {
		g.runs[q.start] = q.elapsed
	}
	g.calls[q.calls] = true
	g.world[q.world] = true
}

// widen doubles the bin width, merging pairs of bins.
func (g *group) widen() {
	for i := range g.bins {
		if i%2 == 0 {
			g.bins[i/2] = g.bins[i]
		} else {
			g.bins[i/2] += g.bins[i]
		}
	}
	g.bins = g.bins[:(len(g.bins)+1)/2]
	g.binWidth *= 2
}

// quantile is the latency at quantile q (0 to 1), in seconds.
func (g *group) quantile(q float64) float64 {
	return float64(g.hist.ValueAtQuantile(100*q)) / 1e6
}

// scatter is what the scatter draws of a group's queries.
type scatter struct {
	// outliers are the queries above p99, or the slowest maxSlow of
	// them when capped.
	outliers []point
	capped   bool
	// sample is a uniform sample of the queries not among outliers.
	sample []point
	// rest counts the queries not among outliers.
	rest int64
	p99  float64
}

// scatter splits the kept queries into the outliers, every query above
// p99 (unless there were more than maxSlow of them), and a uniform
// sample of the others.
func (g *group) scatter() scatter {
	s := scatter{p99: g.quantile(0.99)}
	cut := s.p99
	if len(g.slow) == g.maxSlow && g.n > int64(g.maxSlow) && g.slow[0].latency > s.p99 {
		s.capped = true
		cut = math.Nextafter(g.slow[0].latency, 0)
	}
	for _, p := range g.slow {
		if p.latency > cut {
			s.outliers = append(s.outliers, p)
		}
	}
	for _, p := range g.pool {
		if p.latency <= cut {
			s.sample = append(s.sample, p)
		}
	}
	s.rest = g.n - int64(len(s.outliers))
	return s
}

// minPerBin is the fewest queries a run's throughput bin should hold on
// average: a count of 25 varies by about a fifth from bin to bin by chance
// alone, where bins of a query or two jump between zero and twice the rate.
const minPerBin = 25

// throughput returns, per bin, the bin's start and the queries per second
// of the runs that lasted into it, over the time they lasted in it, with bins widened until a run's bin
// holds about minPerBin queries (but no fewer than 8 bins are left), and
// the mean count of queries in a run's bin.
func (g *group) throughput() (starts, rates []float64, perBin float64) {
	runs := float64(max(len(g.runs), 1))
	for len(g.bins) > 8 && float64(g.n)/runs/float64(len(g.bins)) < minPerBin {
		g.widen()
	}
	ends := slices.Collect(maps.Values(g.runs))
	for i, count := range g.bins {
		start := float64(i) * g.binWidth
		// The seconds of the bin the runs lasted: a run that ended inside
		// it counts for the part it ran, so the last bins are not read low.
		active := 0.0
		for _, end := range ends {
			active += min(max(end-start, 0), g.binWidth)
		}
		rate := 0.0
		if active > 0 {
			rate = float64(count) / active
		}
		starts, rates = append(starts, start), append(rates, rate)
	}
	return starts, rates, float64(g.n) / runs / float64(max(len(g.bins), 1))
}

// slowest is a min-heap of points by latency.
type slowest []point

func (h slowest) Len() int           { return len(h) }
func (h slowest) Less(i, j int) bool { return h[i].latency < h[j].latency }
func (h slowest) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slowest) Push(x any)        { *h = append(*h, x.(point)) }
func (h *slowest) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}

// resultsDir is a results directory and its label: the label given as
// LABEL=DIR, or the path.
type resultsDir struct {
	label, path string
}

// readHistories reads every history under each directory
// (dir/<network>/<wallet>/<miner>/*.csv) into groups, one per miner, load,
// history file and the benchmark file its runs belong to (by attr), in a
// stable order. A CSV file that is not a history in this format is skipped
// with a warning.
func readHistories(dirs []resultsDir, attr *attribution, warn func(string)) ([]*group, error) {
	groups := map[groupKey]*group{}
	var order []groupKey
	for _, dir := range dirs {
		paths, err := csvFiles(dir.path)
		if err != nil {
			return nil, err
		}
		label := ""
		if len(dirs) > 1 {
			label = dir.label
		}
		for _, path := range paths {
			err := readGroups(path, func(k groupKey, start float64) groupKey {
				k.dir = label
				k.source = attr.of(dir.label, k.load(), start)
				k.orphan = k.source == "" && len(attr.sources) > 0
				return k
			}, groups, &order)
			if fe := (*history.FormatError)(nil); errors.As(err, &fe) && fe.Line <= 1 {
				warn(fmt.Sprintf("%s: skipped: %v", path, err))
				continue
			}
			if err != nil {
				return nil, err
			}
		}
	}
	out := make([]*group, len(order))
	for i, k := range order {
		out[i] = groups[k]
	}
	return out, nil
}

// csvFiles lists the CSV files under dir.
func csvFiles(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Ext(path) == ".csv" {
			paths = append(paths, path)
		}
		return nil
	})
	return paths, err
}

// readGroups streams the history at path into groups, keyed by keyOf from
// each row's key and its run's start.
func readGroups(path string, keyOf func(groupKey, float64) groupKey, groups map[groupKey]*group, order *[]groupKey) error {
	miner := filepath.Base(filepath.Dir(path))
	file := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var g *group // the last run's group: consecutive rows share one
	lastStart := math.NaN()
	return readHistory(f, path, func(q query) {
		if g == nil || q.start != lastStart || g.key.conc != q.conc || g.key.batch != q.batch || g.key.block != q.block {
			k := keyOf(groupKey{miner: miner, file: file, batch: q.batch, block: q.block, conc: q.conc}, q.start)
			lastStart = q.start
			g = groups[k]
			if g == nil {
				g = newGroup(k)
				groups[k] = g
				*order = append(*order, k)
			}
		}
		g.add(q)
	})
}
