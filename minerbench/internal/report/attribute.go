package report

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/minerbench/minerbench/minerbench/internal/compare"
)

// load is what a history row says of the benchmark that wrote it: the miner
// and the load it ran.
type load struct {
	miner              string
	batch, block, conc int
}

// source is one benchmark file as the histories' runs are attributed to it.
type source struct {
	label string
	// from and to bound the start times of the file's runs, in Unix
	// seconds: to is the file's last write, from that less the durations
	// go test printed (its "ok <pkg> 12.3s" lines), or the previous file's
	// last write when it printed none.
	from, to float64
	// timed is whether from came from go test's durations.
	timed bool
	loads map[load]bool
}

// attribution assigns each run of a history to the benchmark file that
// produced it.
type attribution struct {
	// sources are the files in the order of their last write.
	sources []*source
	// paired maps a results directory's label to the file of that label.
	paired map[string]*source
}

// slack is how far, in seconds, a run's start may lie outside its file's
// window: file times and the clock of a run's start are not read together.
const slack = 1.0

// newAttribution reads the times of the benchmark files (paths, each a path
// or label=path, whose labels are set.Files) and the loads of their results.
func newAttribution(set *compare.Set, paths []string) (*attribution, error) {
	a := &attribution{paired: map[string]*source{}}
	if set == nil {
		return a, nil
	}
	for i, arg := range paths {
		path := arg
		if _, p, ok := strings.Cut(arg, "="); ok {
			path = p
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		took, timed, err := testDuration(path)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		to := float64(fi.ModTime().UnixNano()) / 1e9
		s := &source{label: set.Files[i], from: to - took, to: to, timed: timed, loads: map[load]bool{}}
		a.sources = append(a.sources, s)
		a.paired[s.label] = s
	}
	for _, t := range set.Tables {
		for _, r := range t.Rows {
			_, miner, keys := splitName(r.Name)
			l, ok := loadOf(miner, keys)
			for j, c := range r.Cells {
				if ok && c != nil {
					a.paired[t.Cols[j]].loads[l] = true
				}
			}
		}
	}
	slices.SortStableFunc(a.sources, func(x, y *source) int { return cmp.Compare(x.to, y.to) })
	for i, s := range a.sources {
		if !s.timed {
			s.from = -1
			if i > 0 {
				s.from = a.sources[i-1].to
			}
		}
	}
	return a, nil
}

// loadOf is the load a benchmark's name keys say it ran.
func loadOf(miner string, keys map[string]string) (load, bool) {
	l := load{miner: miner}
	for _, f := range []struct {
		key string
		v   *int
	}{{"batch", &l.batch}, {"block", &l.block}, {"conc", &l.conc}} {
		n, err := strconv.Atoi(keys[f.key])
		if err != nil {
			return l, false
		}
		*f.v = n
	}
	return l, true
}

// okLine is go test's last line for a package that passed, with its time.
var okLine = regexp.MustCompile(`^ok\s+\S+\s+([0-9.]+)s\b`)

// testDuration sums the durations of go test's "ok" lines in the file at
// path; timed is false when it holds none.
func testDuration(path string) (seconds float64, timed bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if m := okLine.FindSubmatch(sc.Bytes()); m != nil {
			if d, err := strconv.ParseFloat(string(m[1]), 64); err == nil {
				seconds += d
				timed = true
			}
		}
	}
	return seconds, timed, sc.Err()
}

// of is the label of the file a run of load l that started at start belongs
// to, in the results directory labelled dir: the file of that label when
// there is one, else the first file whose window holds start and which ran
// l; "" when none does.
func (a *attribution) of(dir string, l load, start float64) string {
	if s, ok := a.paired[dir]; ok && dir != "" {
		return s.label
	}
	for _, s := range a.sources {
		if start >= s.from-slack && start <= s.to+slack && s.loads[l] {
			return s.label
		}
	}
	return ""
}

// how says how runs were attributed, for the report's words.
func (a *attribution) how() string {
	if len(a.sources) == 0 {
		return ""
	}
	return "Runs of a results directory given as LABEL=DIR belong to the file labelled LABEL; " +
		"others belong to the file whose time window holds their start_time and which ran their miner and load: " +
		"the window ends at the file's last write and begins go test's reported duration before it, " +
		"or at the previous file's last write when the file holds no \"ok\" line. Runs of no file are shown apart."
}
