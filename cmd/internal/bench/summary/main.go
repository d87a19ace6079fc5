// Command summary reads `whistle bench --json` reports and prints which
// closed-model run had the best throughput, and that throughput as a ratio
// to the batched reference floor, on its last line; `make bench` runs it
// after its runs. Files that are missing are left out (a run that failed
// to start writes none).
//
//	go run ./cmd/internal/bench/summary closed-64.json closed-256.json open.json
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/whistle-civic/whistle/cmd/internal/bench"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(1)
	}
}

// named is a report and the file it came from.
type named struct {
	path string
	rep  *bench.Report
}

func run(paths []string, out, errw io.Writer) error {
	if len(paths) == 0 {
		return errors.New("usage: summary REPORT.json [REPORT.json]")
	}
	var reps []named
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(errw, "summary: %s: no such report, left out\n", p)
			continue
		}
		if err != nil {
			return err
		}
		var r bench.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w (is it a whistle bench --json report?)", p, err)
		}
		reps = append(reps, named{p, &r})
	}
	lines, err := summarize(reps)
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	return err
}

// summarize says each run's throughput, then, last, the best closed-model
// run's and its ratio to the batched reference floor (of the same run when
// it ran one, else of the first report that has one).
func summarize(reps []named) ([]string, error) {
	var lines []string
	var best *named
	for i, n := range reps {
		l := n.rep.Loop
		if l == nil {
			continue
		}
		p50, p99 := "—", "—"
		if s, ok := l.Stage(bench.StageEndToEnd); ok {
			p50, p99 = fmt.Sprintf("%.0f", s.P50), fmt.Sprintf("%.0f", s.P99)
		}
		lines = append(lines, fmt.Sprintf("%s: %.2f tickets/s, report → closed p50 %s ms, p99 %s ms, %d stuck (%s)",
			n.rep.Model, l.TicketsPerSecond, p50, p99, l.Stuck, n.path))
		if n.rep.Rate == 0 && (best == nil || l.TicketsPerSecond > best.rep.Loop.TicketsPerSecond) {
			best = &reps[i]
		}
	}
	if best == nil {
		return lines, errors.New("no closed-model run (--rate 0) among the reports")
	}
	line := fmt.Sprintf("best closed model: concurrency %d, %.2f tickets/s", best.rep.Concurrency, best.rep.Loop.TicketsPerSecond)
	batched, from := referenceFloor(best, reps, bench.RefBatched)
	if batched == nil {
		return append(lines, line+"; no batched reference floor ran (pass --reference-floors)"), nil
	}
	line += fmt.Sprintf(" = %s the batched floor (%.1f tickets/s", ratio(best.rep.Loop.TicketsPerSecond, batched.TicketsPerSecond),
		batched.TicketsPerSecond)
	if from != best.path {
		line += ", from " + from
	}
	line += ")"
	if naive, _ := referenceFloor(best, reps, bench.RefNaive); naive != nil {
		line += fmt.Sprintf(", %s the naive floor (%.1f tickets/s)", ratio(best.rep.Loop.TicketsPerSecond, naive.TicketsPerSecond),
			naive.TicketsPerSecond)
	}
	return append(lines, line), nil
}

// referenceFloor finds the reference floor named name: best's own, else
// the first report's that ran it.
func referenceFloor(best *named, reps []named, name string) (*bench.ReferenceFloorReport, string) {
	if f, ok := best.rep.ReferenceFloor(name); ok {
		return f, best.path
	}
	for _, n := range reps {
		if f, ok := n.rep.ReferenceFloor(name); ok {
			return f, n.path
		}
	}
	return nil, ""
}

func ratio(v, floor float64) string {
	if floor == 0 {
		return "—×"
	}
	r := v / floor
	if r >= 1 {
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.2g×", r)
}
