package minerbench

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progressInterval is how often the terminal status line is redrawn.
const progressInterval = 200 * time.Millisecond

// isTerminal reports whether w is a terminal; progress is drawn only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// statusLine is a terminal line that shows what each miner waits for.
// On anything but a terminal it draws nothing.
type statusLine struct {
	w      io.Writer
	active bool
	mu     sync.Mutex
	parts  map[string]string
}

func newStatusLine(w io.Writer) *statusLine {
	return &statusLine{w: w, active: isTerminal(w), parts: map[string]string{}}
}

// set shows text for key, or removes key's text when text is empty.
func (s *statusLine) set(key, text string) {
	if !s.active {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if text == "" {
		delete(s.parts, key)
	} else {
		s.parts[key] = text
	}
	var texts []string
	for _, k := range slices.Sorted(maps.Keys(s.parts)) {
		texts = append(texts, s.parts[k])
	}
	fmt.Fprintf(s.w, "\r\033[K%s", strings.Join(texts, " | "))
}

// done clears the line.
func (s *statusLine) done() {
	if s.active {
		fmt.Fprint(s.w, "\r\033[K")
	}
}

// progress redraws a query count and rate on the terminal until stopped.
type progress struct {
	stopOnce sync.Once
	quit     chan struct{}
	finished chan struct{}
}

func newProgress(name string, done *atomic.Int64) *progress {
	p := &progress{quit: make(chan struct{}), finished: make(chan struct{})}
	if !isTerminal(os.Stderr) {
		close(p.finished)
		return p
	}
	go func() {
		defer close(p.finished)
		start := time.Now()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				fmt.Fprint(os.Stderr, "\r\033[K")
				return
			case <-t.C:
				n := done.Load()
				fmt.Fprintf(os.Stderr, "\r\033[K%s: %d queries, %.0f/s", name, n, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	p.stopOnce.Do(func() { close(p.quit) })
	<-p.finished
}
