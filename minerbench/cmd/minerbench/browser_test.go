package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plotBox is what the browser measured of one plot.
type plotBox struct {
	ID    string  `json:"id"`
	W     float64 `json:"w"`
	H     float64 `json:"h"`
	Texts int     `json:"texts"`
	// Blank counts the plot's text elements drawn with no size.
	Blank int `json:"blank"`
}

// measure lists every plot of the page with its rendered size.
const measure = `Array.from(document.querySelectorAll("section.plot")).map(s => {
	const svg = s.querySelector("svg"), r = svg.getBoundingClientRect();
	const texts = Array.from(svg.querySelectorAll("text"));
	return {id: s.id, w: r.width, h: r.height, texts: texts.length,
		blank: texts.filter(t => { const b = t.getBBox(); return b.width === 0 || b.height === 0; }).length};
})`

// firstScreen is what the browser shows of the verdict before any scroll.
type firstScreen struct {
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
	Text   string  `json:"text"`
	// Height is the viewport's.
	Height float64 `json:"height"`
	// Overflow is whether the verdict is wider than its box.
	Overflow bool `json:"overflow"`
}

// verdictBox measures the first verdict of the page.
const verdictBox = `(() => {
	const v = document.querySelector(".verdict"), r = v.getBoundingClientRect();
	return {top: r.top, bottom: r.bottom, text: v.innerText, height: window.innerHeight,
		overflow: v.scrollWidth > v.clientWidth || r.right > window.innerWidth};
})()`

// Size of the browser's window: the first screenful of a laptop.
const screenW, screenH = 1400, 1000

// TestReportInBrowser opens, in headless Chromium, the report of two files
// with a known regression (noop 15% slower, flaky unchanged) and checks that
// the verdict fills the first screenful and names the regression with its
// size and p; that every plot rendered with a size and its text; that the
// page logged no error and requested nothing but itself. It saves the first
// screen and the whole page in the test's artifact directory (kept with go
// test -artifacts).
func TestReportInBrowser(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("skipped: chromium is not on PATH; install Debian's chromium package (apt-get install chromium) to run the browser test")
	}
	old, cur, res := reportInputs(t)
	page := filepath.Join(t.TempDir(), "report.html")
	status, _, stderr := runCmd("report", "-gate", "-o", page, old, cur, res)
	require.Equal(t, 0, status, stderr)

	ctx := headless(t, chrome)
	var logged pageLog
	require.NoError(t, chromedp.Listen(ctx, logged.record))

	pageURL := (&url.URL{Scheme: "file", Path: page}).String()
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(screenW, screenH), chromedp.Navigate(pageURL), chromedp.WaitReady("body")))
	first, err := chromedp.Run(ctx, chromedp.Evaluate[firstScreen](verdictBox))
	require.NoError(t, err)
	screen, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[[]plotBox](measure))
	require.NoError(t, err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	for name, png := range map[string][]byte{"first-screen.png": screen, "report.png": shot} {
		path := filepath.Join(t.ArtifactDir(), name)
		require.NoError(t, os.WriteFile(path, png, 0o644))
		t.Logf("screenshot: %s", path)
	}

	checkFirstScreen(t, first)
	checkPlots(t, boxes)
	logged.check(t)
}

// headless starts headless Chromium at path chrome in a window of
// screenW×screenH and returns its context, closed when t ends.
func headless(t *testing.T, chrome string) context.Context {
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(screenW, screenH),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// A bound on a hung browser, not a measurement: the test waits on no
	// timer otherwise.
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// pageLog collects what a page logged as errors or warnings and the URLs
// it requested.
type pageLog struct {
	mu                 sync.Mutex
	problems, requests []string
}

// record notes one browser event if it is an error, a warning or a request.
func (l *pageLog) record(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		l.problems = append(l.problems, "exception: "+ev.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			l.problems = append(l.problems, fmt.Sprintf("console.%s", ev.Type))
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			l.problems = append(l.problems, fmt.Sprintf("log %s: %s", ev.Entry.Level, ev.Entry.Text))
		}
	case *network.EventRequestWillBeSent:
		l.requests = append(l.requests, ev.Request.URL)
	}
}

// check asserts the page logged no error or warning and requested nothing
// but itself.
func (l *pageLog) check(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	assert.Empty(t, l.problems, "the page logged no error or warning")
	require.NotEmpty(t, l.requests, "the page itself was requested")
	for _, u := range l.requests {
		assert.True(t, strings.HasPrefix(u, "file://") || strings.HasPrefix(u, "data:"), "request to %s", u)
	}
}

// checkFirstScreen asserts the verdict fills the first screen and names the
// noop miner's regression with its size, interval and p, and nothing of the
// unchanged miner.
func checkFirstScreen(t *testing.T, first firstScreen) {
	assert.Equal(t, float64(screenH), first.Height)
	assert.GreaterOrEqual(t, first.Top, 0.0)
	assert.LessOrEqual(t, first.Bottom, first.Height, "the whole verdict is on the first screen")
	assert.False(t, first.Overflow, "the verdict fits the screen's width")
	noop := "Standard/miner=noop/batch=10/block=10/conc=1-2"
	for _, want := range []string{"Gate: FAIL", noop + "\tp99-sec", "+15.0%", noop + "\tqueries/s", "-13.0%", "worse", "p (corrected)"} {
		assert.Contains(t, first.Text, want)
	}
	assert.Regexp(t, `\+15\.0%\t\+\d+\.\d% to \+\d+\.\d%\t0\.0\d+\t`, first.Text, "the change, its interval and p")
	assert.NotContains(t, first.Text, "miner=flaky", "the unchanged miner is not in the verdict")
}

// checkPlots asserts every plot rendered with a size and sized text, and
// that the report has the expected plots of each kind.
func checkPlots(t *testing.T, boxes []plotBox) {
	kinds := map[string]int{}
	for _, b := range boxes {
		kinds[strings.SplitN(b.ID, "-", 2)[0]]++
		assert.Positive(t, b.W, "plot %s has a width", b.ID)
		assert.Positive(t, b.H, "plot %s has a height", b.ID)
		assert.Positive(t, b.Texts, "plot %s has text", b.ID)
		assert.Zero(t, b.Blank, "plot %s: text drawn with no size", b.ID)
	}
	assert.Equal(t, map[string]int{"percentiles": 1, "timeline": 2, "codes": 2, "comparison": 1}, kinds)
}
