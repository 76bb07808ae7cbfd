// Package pandastest reads a history file as pandas does, for tests.
//
// Bittensor 2.0.4's QueryBenchmark read its history with
// pandas.read_csv(path, index_col=0) and computed its figures from it.
// This package does the same, so that tests can hold minerbench's analysis
// against them. Pandas runs real pandas and skips when no Python with
// pandas is found (on Debian, apt-get install python3-pandas). Emulate
// does the same in Go, everywhere.
package pandastest

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"

	"github.com/minerbench/minerbench/minerbench/internal/pythontest"
)

// Frame is what pandas makes of a history.
type Frame struct {
	// Rows is the number of rows.
	Rows int
	// Columns are the column names after the index, in file order.
	Columns []string
	// Dtypes maps each column to the dtype pandas inferred ("float64", …).
	Dtypes map[string]string
	// QPS is QueryBenchmark's 1 / df['time'].mean().
	QPS float64
	// Describe is df.describe(): column → statistic label ("count", "mean",
	// "std", "min", "25%", "50%", "75%", "max") → value, NaN included.
	Describe map[string]map[string]float64
}

// script prints the Frame of the CSV file named by its argument as JSON,
// with NaN as null.
const script = `
import json, math, sys
import pandas as pd
df = pd.read_csv(sys.argv[1], index_col=0)
d = df.describe()
nan = lambda v: None if math.isnan(v) else v
print(json.dumps({
    "Rows": len(df),
    "Columns": list(df.columns),
    "Dtypes": {c: str(t) for c, t in df.dtypes.items()},
    "QPS": nan(1 / df["time"].mean()),
    "Describe": {c: {k: nan(float(v)) for k, v in d[c].items()} for c in d.columns},
}))
`

// Pandas reads the history at path with pandas.read_csv(path, index_col=0).
// It skips tb when no Python with pandas is found.
func Pandas(tb testing.TB, path string) Frame {
	tb.Helper()
	python := pythontest.Find(tb, "pandas", "python3-pandas")
	out, err := exec.Command(python, "-c", script, path).Output()
	if err != nil {
		var stderr string
		if e, ok := err.(*exec.ExitError); ok {
			stderr = string(e.Stderr)
		}
		tb.Fatalf("pandas on %s: %v\n%s", path, err, stderr)
	}
	var raw struct {
		Frame
		QPS      *float64
		Describe map[string]map[string]*float64
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		tb.Fatalf("pandas on %s: %v\n%s", path, err, out)
	}
	f := raw.Frame
	f.QPS = orNaN(raw.QPS)
	f.Describe = map[string]map[string]float64{}
	for col, stats := range raw.Describe {
		f.Describe[col] = map[string]float64{}
		for k, v := range stats {
			f.Describe[col][k] = orNaN(v)
		}
	}
	return f
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// Emulate reads the history at path as pandas.read_csv(path, index_col=0)
// reads this project's numeric CSV files, and computes the Frame as pandas
// does: the mean as sum/n, the standard deviation in two passes with n-1,
// quartiles interpolated linearly between order statistics.
func Emulate(tb testing.TB, path string) Frame {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if len(records) == 0 || records[0][0] != "" {
		tb.Fatalf("%s: want an unnamed index column first", path)
	}
	frame := Frame{Rows: len(records) - 1, Columns: records[0][1:], Dtypes: map[string]string{}, Describe: map[string]map[string]float64{}}
	for c, name := range frame.Columns {
		values := make([]float64, frame.Rows)
		dtype := "int64"
		for r, rec := range records[1:] {
			field := rec[c+1]
			if _, err := strconv.ParseInt(field, 10, 64); err != nil {
				dtype = "float64"
			}
			if values[r], err = strconv.ParseFloat(field, 64); err != nil {
				tb.Fatalf("%s: row %d column %s: %v", path, r+1, name, err)
			}
		}
		frame.Dtypes[name] = dtype
		frame.Describe[name] = describe(values)
		if name == "time" {
			frame.QPS = 1 / frame.Describe[name]["mean"]
		}
	}
	return frame
}

// describe returns pandas' describe() of values, computed as pandas does.
func describe(values []float64) map[string]float64 {
	n := float64(len(values))
	nan := math.NaN()
	d := map[string]float64{"count": n, "mean": nan, "std": nan, "min": nan, "25%": nan, "50%": nan, "75%": nan, "max": nan}
	if len(values) == 0 {
		return d
	}
	sorted := slices.Sorted(slices.Values(values))
	var sum float64
	for _, v := range sorted {
		sum += v
	}
	mean := sum / n
	d["mean"] = mean
	if len(values) > 1 {
		var ss float64
		for _, v := range sorted {
			ss += (v - mean) * (v - mean)
		}
		d["std"] = math.Sqrt(ss / (n - 1))
	}
	quantile := func(q float64) float64 {
		pos := q * (n - 1)
		k := int(math.Floor(pos))
		if k+1 >= len(sorted) {
			return sorted[k]
		}
		return sorted[k] + (pos-float64(k))*(sorted[k+1]-sorted[k])
	}
	d["min"], d["25%"], d["50%"], d["75%"], d["max"] = sorted[0], quantile(0.25), quantile(0.5), quantile(0.75), sorted[len(sorted)-1]
	return d
}
