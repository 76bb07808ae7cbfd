package minerbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/history"
)

// analysisName is the file beside each history that holds the full
// analysis of every result of the latest run that benchmarked its miner.
const analysisName = "analysis.txt"

// writeAnalysis appends the full analysis of run to
// analysis.txt beside the history at historyPath, starting that file afresh
// at its first use by this process, and logs a one-line summary.
//
// The analysis is what Bittensor 2.0.4's QueryBenchmark printed: its
// print_query_analysis and what it printed before the queries. The summary
// names the file the first time: a benchmark's log is the one channel go
// test shows without -v that cannot break a result line (benchstat ignores
// it).
func (h *harness) writeAnalysis(b *testing.B, run *benchRun, historyPath string, wall time.Duration) error {
	dir := filepath.Dir(historyPath)
	path := filepath.Join(dir, analysisName)
	h.historyMu.Lock()
	first := !h.analyzed[path]
	h.analyzed[path] = true
	h.historyMu.Unlock()

	s, info := run.summary, run.info
	var text strings.Builder
	fmt.Fprintf(&text, "=== %s\n", b.Name())
	fmt.Fprintf(&text, "Logging to: %s\n", dir)
	fmt.Fprintf(&text, "History: %s, rows with start_time %s (%s)\n", filepath.Base(historyPath),
		strconv.FormatFloat(history.UnixSeconds(info.Start), 'f', -1, 64), info.Start.UTC().Format(time.RFC3339Nano))
	if syn := run.load.Synapse; syn != nil {
		fmt.Fprintf(&text, "Running:\n\tqueries: %d\n\tsynapse: %s %s\n\tn_processes: %d\n",
			s.Count(), syn.Name, syn.Body, info.NProcesses)
	} else {
		fmt.Fprintf(&text, "Running:\n\tqueries: %d\n\tbatch size: %d\n\tblock_length: %d\n\tn_processes: %d\n",
			s.Count(), info.BatchSize, info.BlockSize, info.NProcesses)
	}
	if run.stats.Open != nil {
		run.printOpenLoop(&text, wall)
	}
	if err := s.Print(&text, wall); err != nil {
		return err
	}
	text.WriteString(printMessages(run.messages))
	text.WriteByte('\n')

	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if first {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("analysis: %w", err)
	}
	_, err = f.WriteString(text.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("analysis: %w", err)
	}

	line := fmt.Sprintf("%d queries: QPS %.2f (1/mean(time), as QueryBenchmark computed it), success %.4g, p50 %v",
		s.Count(), s.QPS(), s.SuccessRate(), s.Latency().Quantile(0.5))
	if first {
		line += "; full analysis of each result in " + path
	}
	b.Log(line)
	return nil
}
