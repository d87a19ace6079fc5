package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/cmd/internal/bench"
)

func report(rate float64, concurrency int, tps float64, refs ...*bench.ReferenceFloorReport) *bench.Report {
	return &bench.Report{Model: "m", Rate: rate, Concurrency: concurrency, Loop: &bench.LoopReport{TicketsPerSecond: tps},
		ReferenceFloors: refs}
}

func TestSummaryNamesTheBestClosedRunAndItsRatioToTheBatchedFloor(t *testing.T) {
	t.Parallel()
	batched := &bench.ReferenceFloorReport{Name: bench.RefBatched, TicketsPerSecond: 2000}
	naive := &bench.ReferenceFloorReport{Name: bench.RefNaive, TicketsPerSecond: 400}
	tests := []struct {
		name string
		reps []named
		want string
	}{
		{"floors in the best run", []named{{"a", report(0, 64, 30, naive, batched)}, {"b", report(0, 256, 20)}},
			"best closed model: concurrency 64, 30.00 tickets/s = 0.015× the batched floor (2000.0 tickets/s), 0.075× the naive floor (400.0 tickets/s)"},
		{"floors in another run", []named{{"a", report(0, 64, 30, naive, batched)}, {"b", report(0, 256, 40)}, {"c", report(250, 16, 90)}},
			"best closed model: concurrency 256, 40.00 tickets/s = 0.02× the batched floor (2000.0 tickets/s, from a), 0.1× the naive floor"},
		{"no floors", []named{{"b", report(0, 256, 40)}},
			"best closed model: concurrency 256, 40.00 tickets/s; no batched reference floor ran"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lines, err := summarize(tc.reps)
			if err != nil {
				t.Fatal(err)
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, tc.want) {
				t.Fatalf("last line %q, want it to start %q", last, tc.want)
			}
		})
	}
}

func TestSummaryWantsAClosedRun(t *testing.T) {
	t.Parallel()
	if _, err := summarize([]named{{"c", report(250, 16, 90)}}); err == nil {
		t.Fatal("no error without a closed-model run")
	}
}

func TestSummaryReadsReportsAndLeavesOutMissingOnes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "closed-64.json")
	if err := report(0, 64, 12.5, &bench.ReferenceFloorReport{Name: bench.RefBatched, TicketsPerSecond: 5000}).WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if err := run([]string{path, filepath.Join(dir, "open.json")}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "best closed model: concurrency 64, 12.50 tickets/s = 0.0025× the batched floor") ||
		!strings.Contains(errw.String(), "open.json: no such report") {
		t.Fatalf("out %q, err %q", out.String(), errw.String())
	}
}
