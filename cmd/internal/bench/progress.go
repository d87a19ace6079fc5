package bench

import (
	"fmt"
	"io"
	"time"
)

// figures are what the progress line shows.
type figures struct {
	started, done, inFlight, errors int
}

// progress prints a progress line on w while a phase runs: on a terminal one
// line rewritten in place five times a second, otherwise a plain line a second.
type progress struct {
	quit chan struct{}
	done chan struct{}
}

// showProgress starts the line for a phase of length total; nil w shows
// none. names are the words for started and done, e.g. "reported", "closed".
func showProgress(w io.Writer, terminal bool, phase string, names [2]string, total time.Duration, read func() figures) *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	every := time.Second
	if terminal {
		every = 200 * time.Millisecond
	}
	start := time.Now()
	line := func() string {
		f := read()
		at := fmt.Sprintf("%s/%s", min(time.Since(start), total).Truncate(time.Second), total)
		if over := time.Since(start) - total; over > 0 {
			at += fmt.Sprintf(" +%s drain", over.Truncate(time.Second))
		}
		return fmt.Sprintf("bench %s %s: %d %s, %d %s, %d in flight, %d errors", phase, at,
			f.started, names[0], f.done, names[1], f.inFlight, f.errors)
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				if terminal {
					fmt.Fprintf(w, "\r%s\x1b[K\n", line())
				}
				return
			case <-t.C:
				if terminal {
					fmt.Fprintf(w, "\r%s\x1b[K", line())
				} else {
					fmt.Fprintln(w, line())
				}
			}
		}
	}()
	return p
}

// stop ends the line.
func (p *progress) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.quit)
	<-p.done
}
