package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// The checks, numbered as docs/security.md's "Adversarial suite" lists them.
const (
	gPolicy   = "1 policy"
	gGhost    = "2 unknown unit"
	gVerdict  = "3 verdicts"
	gPersonal = "4 personal data"
	gInput    = "5 bad input"
	gRate     = "6 rate limits"
	gToken    = "7 tokens"
	gNATS     = "8 NATS"
	gAudit    = "9 audit"
)

// result is one row of the suite's outcome.
type result struct {
	group, name, expected, observed string
	state                           state
}

type state int

const (
	passed state = iota
	failed
	skipped
)

// report collects the rows and prints them: progress while running, then
// the failures, the skips, a count per check and the summary line.
type report struct {
	out     io.Writer
	verbose bool
	mu      sync.Mutex
	rows    []result
}

func (r *report) add(res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, res)
	if r.verbose {
		fmt.Fprintf(r.out, "  %-6s %s: %s (expected %s; observed %s)\n", [...]string{"ok", "FAIL", "skip"}[res.state],
			res.group, res.name, res.expected, res.observed)
	}
}

// check records a row that passes when ok holds.
func (r *report) check(group, name string, ok bool, expected, observed string) bool {
	st := passed
	if !ok {
		st = failed
	}
	r.add(result{group: group, name: name, expected: expected, observed: observed, state: st})
	return ok
}

// skip records a row that could not be checked, and why. A skip is not a pass.
func (r *report) skip(group, name, why string) {
	r.add(result{group: group, name: name, expected: "-", observed: why, state: skipped})
}

func (r *report) count(st state) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, row := range r.rows {
		if row.state == st {
			n++
		}
	}
	return n
}

// print writes the failures as a table, the skips, the rows per check and
// the summary line "N passed, M failed".
func (r *report) print(took time.Duration) {
	r.mu.Lock()
	rows := append([]result(nil), r.rows...)
	r.mu.Unlock()
	var fails []result
	for _, row := range rows {
		if row.state == failed {
			fails = append(fails, row)
		}
	}
	if len(fails) > 0 {
		fmt.Fprintf(r.out, "\nFAILURES (%d)\n", len(fails))
		tw := tabwriter.NewWriter(r.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tCALL\tEXPECTED\tOBSERVED")
		for _, f := range fails {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.group, f.name, clip(f.expected, 70), clip(f.observed, 160))
		}
		_ = tw.Flush()
	}
	for _, row := range rows {
		if row.state == skipped {
			fmt.Fprintf(r.out, "skipped: %s: %s: %s\n", row.group, row.name, row.observed)
		}
	}
	r.printCounts(rows)
	fmt.Fprintf(r.out, "adversarial suite took %s\n", took.Round(time.Second))
	fmt.Fprintf(r.out, "%d passed, %d failed\n", r.count(passed), r.count(failed))
}

func (r *report) printCounts(rows []result) {
	type counts struct{ pass, fail, skip int }
	by := map[string]*counts{}
	for _, row := range rows {
		c := by[row.group]
		if c == nil {
			c = &counts{}
			by[row.group] = c
		}
		switch row.state {
		case passed:
			c.pass++
		case failed:
			c.fail++
		default:
			c.skip++
		}
	}
	groups := make([]string, 0, len(by))
	for g := range by {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	fmt.Fprintln(r.out, "\nCHECKS")
	tw := tabwriter.NewWriter(r.out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "check\tpassed\tfailed\tskipped\t")
	for _, g := range groups {
		c := by[g]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", g, c.pass, c.fail, c.skip)
	}
	_ = tw.Flush()
}

// progress prints one line of what the suite is doing.
func progress(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "adversarial: "+format+"\n", args...)
}

// clip shortens s to n runes, on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
