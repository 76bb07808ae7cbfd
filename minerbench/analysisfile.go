package minerbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minerbench/minerbench/minerbench/internal/history"
)

// analysisName is the analysis file beside each history.
// It holds the full analysis of each result of the latest run.
const analysisName = "analysis.txt"

// writeAnalysis appends the analysis of res to the history's analysis
// file, and logs a one-line summary.
//
// The analysis is what Bittensor 2.0.4's QueryBenchmark printed before the
// queries and in its print_query_analysis. This process starts each
// analysis file afresh at its first write. The first summary names the
// file. The benchmark's log carries it because go test shows the log
// without -v, and benchstat ignores it, so it cannot break a result line.
func (h *harness) writeAnalysis(b *testing.B, res *benchResult, historyPath string, wall time.Duration) error {
	dir := filepath.Dir(historyPath)
	path := filepath.Join(dir, analysisName)
	h.historyMu.Lock()
	first := !h.analyzed[path]
	h.analyzed[path] = true
	h.historyMu.Unlock()

	s, info := res.summary, res.info
	var text strings.Builder
	fmt.Fprintf(&text, "=== %s\n", b.Name())
	fmt.Fprintf(&text, "Logging to: %s\n", dir)
	fmt.Fprintf(&text, "History: %s, rows with start_time %s (%s)\n", filepath.Base(historyPath),
		strconv.FormatFloat(history.UnixSeconds(info.Start), 'f', -1, 64), info.Start.UTC().Format(time.RFC3339Nano))
	if syn := res.load.Synapse; syn != nil {
		fmt.Fprintf(&text, "Running:\n\tqueries: %d\n\tsynapse: %s %s\n\tn_processes: %d\n",
			s.Count(), syn.Name, syn.Body, info.NProcesses)
	} else {
		fmt.Fprintf(&text, "Running:\n\tqueries: %d\n\tbatch size: %d\n\tblock_length: %d\n\tn_processes: %d\n",
			s.Count(), info.BatchSize, info.BlockSize, info.NProcesses)
	}
	if res.stats.Open != nil {
		res.printOpenLoop(&text, wall)
	}
	if err := s.Print(&text, wall); err != nil {
		return err
	}
	text.WriteString(printMessages(res.messages))
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
