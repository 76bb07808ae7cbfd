package minerbench

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// ttyPath is the process's controlling terminal.
const ttyPath = "/dev/tty"

// alerter writes what a user must see to stderr and the terminal.
//
// A user must see an error that stops the run, such as a refused setting
// or a harness fault, and a failed run. go test merges a test binary's
// stderr into its stdout. So with `go test -bench . > new.txt`, a refusal
// lands in new.txt and nothing reaches the terminal. When stderr is a
// regular file, as it is then, an alert also goes to the terminal. A pipe
// is left alone, since what reads it decides what to show. For example,
// `| tee new.txt` shows everything already.
type alerter struct {
	stderr io.Writer
	tty    io.Writer // nil when stderr reaches the user, or there is no terminal
}

// fatal writes an error that stops the run to stderr and to the terminal.
func (a alerter) fatal(err error) {
	msg := fmt.Sprintf("minerbench: %v\n", err)
	io.WriteString(a.stderr, msg)
	if a.tty != nil {
		io.WriteString(a.tty, msg)
	}
}

// warn writes msg, a warning about a run that goes on, to the terminal.
// The benchmark's log has it already.
func (a alerter) warn(msg string) {
	if a.tty != nil {
		io.WriteString(a.tty, "minerbench: WARNING: "+msg+"\n")
	}
}

// failed tells the terminal that the run ended with status code.
// It names the benchmarks that failed, when known. Stderr has their own
// output already.
func (a alerter) failed(code int, benchmarks []string) {
	if a.tty == nil {
		return
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "minerbench: the run failed (exit status %d); its output says why", code)
	if len(benchmarks) > 0 {
		msg.WriteString(". Failed:")
		for _, b := range benchmarks {
			msg.WriteString("\n    " + b)
		}
	}
	msg.WriteString("\n")
	io.WriteString(a.tty, msg.String())
}

// openTerminal returns the terminal at path when stderr is a regular file.
// It returns nil when stderr is a terminal or a pipe, or when there is no
// terminal, as in CI.
func openTerminal(stderr *os.File, path string) io.WriteCloser {
	info, err := stderr.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return nil
	}
	tty, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil
	}
	return tty
}
