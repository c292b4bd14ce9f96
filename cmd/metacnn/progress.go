package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports how far a long job has come: a bar on a terminal, a
// plain line every tenth of the way otherwise (logs, pipes, tests).
type progress struct {
	bar  *progressbar.ProgressBar
	w    io.Writer
	what string
	last int // tenths reported as plain lines
}

func newProgress(w io.Writer, what string, total int) *progress {
	p := &progress{w: w, what: what}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("img"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

// Update reports done of total.
func (p *progress) Update(done, total int) {
	if p.bar != nil {
		_ = p.bar.Set(done)
		return
	}
	if tenth := 10 * done / max(total, 1); tenth > p.last {
		p.last = tenth
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%)\n", p.what, done, total, 100*done/max(total, 1))
	}
}

// Stop ends the bar, leaving the terminal on a fresh line.
func (p *progress) Stop() {
	if p.bar != nil && !p.bar.IsFinished() {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}
