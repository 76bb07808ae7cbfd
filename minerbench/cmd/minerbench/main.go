// Command minerbench turns benchmark results into decisions: an HTML report
// of plots, and a regression gate for CI.
//
// It is a tool dependency of the module, so in a clone it runs with no
// install:
//
//	go tool minerbench report [-o report.html] [-svg DIR] [-gate] FILE... [[LABEL=]RESULTS_DIR]...
//	go tool minerbench gate [-threshold 5%] [-metrics list] [-metric name=threshold]... OLD NEW
//
// FILE, OLD and NEW are outputs of go test -bench (benchfmt); RESULTS_DIR is
// a directory of CSV query histories. gate exits 0 when no metric
// regressed, 1 when one did, and 2 when it cannot decide.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/minerbench/minerbench/minerbench/internal/gate"
	"github.com/minerbench/minerbench/minerbench/internal/report"
)

func main() {
	os.Exit(exitCode(run(os.Stdout, os.Stderr, os.Args[1:]), os.Stderr))
}

// errRegression is run's error when the gate failed; its verdict is printed.
var errRegression = errors.New("significant regression")

// exitCode maps run's error to the exit status, printing it unless it was
// already shown: 0 for success and -h, 1 for a regression, 2 for the rest.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errRegression):
		return 1
	}
	fmt.Fprintln(stderr, "minerbench:", err)
	return 2
}

const usage = `usage: go tool minerbench <command> [flags] [arguments]

Commands:
  report   an HTML report of benchmark results and query histories
  gate     exit 1 on a significant regression between two result files

Run go tool minerbench <command> -h for a command's flags.
`

// run is the command with its arguments (without the program name).
func run(stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command: want report or gate")
	}
	switch args[0] {
	case "report":
		return runReport(stdout, stderr, args[1:])
	case "gate":
		return runGate(stdout, stderr, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: want report or gate", args[0])
}

// newFlags is a flag set that reports errors rather than exiting.
func newFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go tool minerbench %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

func runReport(stdout, stderr io.Writer, args []string) error {
	fs := newFlags("report", "[-o report.html] [-svg DIR] [-gate] [gate flags] FILE... [RESULTS_DIR | LABEL=RESULTS_DIR]...",
		`Writes one self-contained HTML file (inline SVG plots, nothing loaded from
any address) from benchfmt files, the output of go test -bench, and the CSV
query histories under each RESULTS_DIR (a directory argument). With two
files or more it opens with the verdict: the significant changes of the
metrics the gate judges (-metrics, -metric, -threshold, as gate takes
them), largest first, and with -gate the gate's pass or fail. With one
file it opens with a summary per benchmark and miner. Then, per
benchmark, latency percentiles, and latency, throughput and return codes
over time of each history of its runs. A run belongs to the file labelled
as its directory (LABEL=RESULTS_DIR, as scripts/compare.sh writes them),
or else to the file whose go test ran at its start_time; runs of no file
are shown apart.`, stderr)
	out := fs.String("o", "report.html", "write the report to `file` (- for stdout)")
	svgDir := fs.String("svg", "", "also write every plot as SVG and PNG files into `dir`")
	showGate := fs.Bool("gate", false, "show the gate's pass or fail beside the verdict, as go tool minerbench gate decides it")
	judge := gateFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := report.Options{PlotDir: *svgDir, Warn: stderr, Judge: *judge, Gate: *showGate}
	for _, a := range fs.Args() {
		path := a
		if _, p, ok := strings.Cut(a, "="); ok {
			path = p
		}
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			opts.Results = append(opts.Results, a)
			continue
		}
		opts.Files = append(opts.Files, a)
	}
	if len(opts.Files) == 0 && len(opts.Results) == 0 {
		fs.Usage()
		return errors.New("report: no input: want benchfmt files, a results directory or both")
	}
	if *showGate && len(opts.Files) < 2 {
		return fmt.Errorf("report: -gate with %d benchmark files: want two or more, the first the baseline", len(opts.Files))
	}
	if *out == "-" {
		return report.Write(stdout, opts)
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("report: -o: %w", err)
	}
	if err := report.Write(f, opts); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: -o: %w", err)
	}
	fmt.Fprintf(stderr, "report: wrote %s\n", *out)
	return nil
}

func runGate(stdout, stderr io.Writer, args []string) error {
	fs := newFlags("gate", "[-threshold 5%] [-metrics list] [-metric name=threshold]... OLD NEW",
		`Compares the benchfmt files OLD and NEW with benchstat's statistics (the
medians, the Mann-Whitney U test) and fails when a judged metric of a
benchmark in both got significantly worse by more than its threshold.
It judges queries/s, success-%, p50-ns and p99-ns by default (-metrics), and
corrects the p-values by Holm's method over every metric and benchmark it
judges, so that the chance of any false alarm stays within alpha 0.05.
"Worse" follows each unit's better= line (Unit queries/s better=higher)
and benchstat's defaults. Exit status: 0 no regression, 1 regression, 2
cannot decide (a missing or malformed file, no benchmark in common, too
few runs).`, stderr)
	opts := gateFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("gate: %d files given: want two, OLD and NEW", fs.NArg())
	}
	v, err := gate.Check(fs.Arg(0), fs.Arg(1), *opts)
	if err != nil {
		return fmt.Errorf("gate: %w", err)
	}
	if err := v.Write(stdout, stderr); err != nil {
		return err
	}
	if v.Failed() {
		return errRegression
	}
	return nil
}

// gateFlags defines the gate's flags on fs: -threshold, -metric and
// -metrics, which report takes too.
func gateFlags(fs *flag.FlagSet) *gate.Options {
	opts := &gate.Options{Threshold: 0.05, Metrics: map[string]float64{}}
	fs.Var((*percent)(&opts.Threshold), "threshold",
		"the minimum effect: fail on a significant change for the worse larger than `percent`")
	fs.Var(metricFlag(opts.Metrics), "metric",
		"judge one metric with its own threshold, as `unit=percent` (e.g. p99-ns=10%); repeatable")
	fs.Var((*listFlag)(&opts.Judge), "metrics",
		"judge the metrics in `list`, comma-separated units (e.g. queries/s,p50-ns), or all (default queries/s,success-%,p50-ns,p99-ns)")
	return opts
}

// listFlag is a comma-separated list of metric units.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = nil
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name == "" {
			return fmt.Errorf("%q: want units separated by commas, such as queries/s,p99-ns, or all", s)
		}
		*l = append(*l, name)
	}
	if len(*l) > 1 && slices.Contains(*l, "all") {
		return fmt.Errorf("%q: all stands alone: want all, or a list of units", s)
	}
	return nil
}

// percent is a flag.Value of a percentage such as 5%, held as a fraction.
type percent float64

func (p *percent) String() string { return strconv.FormatFloat(float64(*p)*100, 'g', -1, 64) + "%" }

func (p *percent) Set(s string) error {
	v, err := parsePercent(s)
	if err != nil {
		return err
	}
	*p = percent(v)
	return nil
}

func parsePercent(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "%")
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || v < 0 || v != v {
		return 0, fmt.Errorf("%q: want a percentage, zero or more, such as 5%%", s)
	}
	return v / 100, nil
}

// metricFlag is the repeatable -metric unit=percent flag.
type metricFlag map[string]float64

func (m metricFlag) String() string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%g%%", k, 100*v))
	}
	return strings.Join(parts, ",")
}

func (m metricFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q: want unit=percent, such as p99-ns=10%%", s)
	}
	v, err := parsePercent(value)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	m[name] = v
	return nil
}
