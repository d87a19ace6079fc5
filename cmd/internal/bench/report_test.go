package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sampleReport is a report with every part filled.
func sampleReport() *Report {
	stages := []Stage{stageOf(StageReport, clockClient, Summarize([]time.Duration{2 * time.Millisecond, 4 * time.Millisecond})),
		stageOf(StageEndToEnd, clockClient, Summarize([]time.Duration{300 * time.Millisecond, 500 * time.Millisecond}))}
	loop := &LoopReport{Model: "open model, 10 tickets/s", WindowSeconds: 30, Arrivals: 300, Reported: 300, Closed: 300,
		ClosedInWindow: 290, PlannedUnsatisfied: 30, Reworked: 30, TicketsPerSecond: 290.0 / 30, MutatingCalls: 1530,
		Stages: stages, Errors: []ErrorRow{{RPC: "Accept", Code: "Unavailable", Count: 2}},
		Processes: []ProcessReport{{Name: "whistle dev", PID: 42, CPUSeconds: 15, PeakRSS: 100 << 20, RSSFirst: 60 << 20,
			RSSMiddle: 90 << 20, RSSLast: 95 << 20, RSSSeries: []int64{60 << 20, 90 << 20, 95 << 20}, Measured: "utime+stime"}},
		TicketIDs: []string{"not-in-json"}}
	floor := &FloorReport{Work: FloorWork{Commits: 24, Publishes: 7, Consumes: 18}, Model: loop.Model, WindowSeconds: 30,
		Arrivals: 300, Done: 300, DoneInWindow: 300, TicketsPerSecond: 10, Stream: FloorStream, StreamStorage: "file storage",
		Stages:    []Stage{stageOf(FloorStageTicket, clockClient, Summarize([]time.Duration{50 * time.Millisecond, 100 * time.Millisecond}))},
		Processes: []ProcessReport{{Name: "whistle dev", PID: 42, CPUSeconds: 3, RSSSeries: []int64{1}}}}
	work := (&counter{published: 2184, consumed: 5304, consumeTx: 3924, relayTx: 1632}).work(300, 1530)
	r := &Report{Started: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), RunID: "r1", Target: "a fresh whistle dev on 127.0.0.1:7000",
		Model: loop.Model, Rate: 10, Concurrency: 16, Unsatisfied: 0.1, Seed: 7, Loop: loop, Work: work, Floor: floor,
		Ratios: ratios(loop, floor), Notes: []string{"a note"}, ReferenceFloors: sampleReferenceFloors()}
	r.ReferenceRatios = referenceRatios(r)
	return r
}

// sampleReferenceFloors are a naive floor at 50 tickets/s and a batched
// one at 250.
func sampleReferenceFloors() []*ReferenceFloorReport {
	floor := func(name string, inFlight int, tps float64, p50 time.Duration) *ReferenceFloorReport {
		return &ReferenceFloorReport{Name: name, Does: referenceDoes[name], StepsPerTicket: ReferenceSteps, InFlight: inFlight,
			WindowSeconds: 10, Started: int(10 * tps), Done: int(10 * tps), DoneInWindow: int(10 * tps), TicketsPerSecond: tps,
			Stages:         []Stage{stageOf(RefStageTicket, clockClient, Summarize([]time.Duration{p50, 2 * p50}))},
			Processes:      []ProcessReport{{Name: "postgres", PID: 43, CPUSeconds: tps / 100, RSSSeries: []int64{1}}},
			CPUMsPerTicket: map[string]float64{"postgres": 1}, Stream: FloorStream}
	}
	return []*ReferenceFloorReport{floor(RefNaive, NaiveInFlight, 50, 70*time.Millisecond),
		floor(RefBatched, BatchedInFlight, 250, 40*time.Millisecond)}
}

func TestTableShowsEveryPart(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	tests := []struct{ name, want string }{
		{"header", "whistle bench r1 against a fresh whistle dev on 127.0.0.1:7000"},
		{"counts", "reported 300 (0 failed to report), closed 300 (290 in the window), stuck 0, reworked 30 of 30"},
		{"throughput", "throughput 9.67 tickets/s"},
		{"stage columns", "STAGE"},
		{"a stage row", "report RPC"},
		{"the end-to-end stage", "report → closed"},
		{"an error row", "Accept"},
		{"a process row", "whistle dev"},
		{"rss over time", "60.0 / 90.0 / 95.0"},
		{"work per ticket", "mutating RPCs 5.10, events published 7.28, events consumed 17.68 (in 13.08 consume commits), relay mark-sent commits 5.44"},
		{"derived commits", "W = 23.62, JetStream publishes P = 7.28, consumes C = 17.68; the floor does 24, 7, 18"},
		{"floor", "per ticket 24 commits, 7 publishes, 18 consumes"},
		{"ratio header", "loop ÷ floor"},
		{"throughput ratio", "0.97×"},
		{"latency ratio", "5×"},
		{"note", "note: a note"},
		{"the measured floor named", "floor (the loop's own work, unbatched): open model"},
		{"reference floors", "reference floors: fixed work on the same servers"},
		{"a reference floor's row", "naive           64      500      0       0       50.0    70.0   140.0  1.00"},
		{"what the batched floor does", "batched floor: 6 steps per ticket, one after another, group-committed"},
		{"the loop over the reference floors", "loop = 0.039× batched floor (250.0 tickets/s), 0.19× naive floor (50.0 tickets/s); 9.67 tickets/s"},
		{"the floor over the reference floors", "floor (the loop's own work, unbatched) = 0.04× batched floor (250.0 tickets/s), 0.2× naive floor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(out, tc.want) {
				t.Fatalf("table lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestTableSaysNoErrors(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	r.Loop.Errors, r.Floor, r.Ratios, r.Work, r.ReferenceFloors, r.ReferenceRatios = nil, nil, nil, nil, nil, nil
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "errors: none") || strings.Contains(out, "floor") {
		t.Fatalf("want errors: none and no floor:\n%s", out)
	}
}

func TestRatiosPutTheLoopOverTheFloor(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	tests := []struct {
		figure            string
		loop, floor, want float64
	}{
		{"tickets/s", 290.0 / 30, 10, 0.9667},
		{"ticket latency p50 ms", 300, 50, 6},
		{"ticket latency max ms", 500, 100, 5},
		{"CPU ms/ticket whistle dev", 50, 10, 5},
	}
	for _, tc := range tests {
		t.Run(tc.figure, func(t *testing.T) {
			t.Parallel()
			for _, got := range r.Ratios {
				if got.Figure != tc.figure {
					continue
				}
				if math.Abs(got.Loop-tc.loop) > 1e-3 || math.Abs(got.Floor-tc.floor) > 1e-3 || math.Abs(got.Ratio-tc.want) > 1e-3 {
					t.Fatalf("%+v, want loop %g floor %g ratio %g", got, tc.loop, tc.floor, tc.want)
				}
				return
			}
			t.Fatalf("no ratio %q in %+v", tc.figure, r.Ratios)
		})
	}
}

func TestJSONRoundTrips(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bench.json")
	want := sampleReport()
	if err := want.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"run id", got.RunID, want.RunID},
		{"closed", got.Loop.Closed, want.Loop.Closed},
		{"stage p95", got.Loop.Stages[1].P95, 500.0},
		{"stage clock", got.Loop.Stages[0].Clock, clockClient},
		{"errors", got.Loop.Errors[0], want.Loop.Errors[0]},
		{"rss series", len(got.Loop.Processes[0].RSSSeries), 3},
		{"work", *got.Work, *want.Work},
		{"floor work", got.Floor.Work, want.Floor.Work},
		{"ratios", len(got.Ratios), len(want.Ratios)},
		{"ticket ids stay out", len(got.Loop.TicketIDs), 0},
		{"reference floors", len(got.ReferenceFloors), 2},
		{"a reference floor's throughput", got.ReferenceFloors[1].TicketsPerSecond, 250.0},
		{"a reference floor's CPU", got.ReferenceFloors[0].CPUMsPerTicket["postgres"], 1.0},
		{"reference ratios", len(got.ReferenceRatios), 4},
		{"a reference ratio", got.ReferenceRatios[1], want.ReferenceRatios[1]},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	for _, key := range []string{`"p50_ms"`, `"tickets_per_second"`, `"work_per_ticket"`, `"peak_rss_bytes"`, `"reference_floors"`,
		`"reference_ratios"`, `"cpu_ms_per_ticket"`, `"reference_floor_tickets_per_second"`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestReferenceRatiosPutEachThroughputOverEachReferenceFloor(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	tests := []struct {
		figure, floor     string
		value, ref, ratio float64
	}{
		{RefFigureLoop, RefNaive, 290.0 / 30, 50, 290.0 / 30 / 50},
		{RefFigureLoop, RefBatched, 290.0 / 30, 250, 290.0 / 30 / 250},
		{RefFigureFloor, RefNaive, 10, 50, 0.2},
		{RefFigureFloor, RefBatched, 10, 250, 0.04},
	}
	for _, tc := range tests {
		t.Run(tc.figure+" over "+tc.floor, func(t *testing.T) {
			t.Parallel()
			for _, got := range r.ReferenceRatios {
				if got.Figure != tc.figure || got.Floor != tc.floor {
					continue
				}
				if math.Abs(got.Value-tc.value) > 1e-9 || got.FloorValue != tc.ref || math.Abs(got.Ratio-tc.ratio) > 1e-9 {
					t.Fatalf("%+v, want %g over %g = %g", got, tc.value, tc.ref, tc.ratio)
				}
				return
			}
			t.Fatalf("no ratio of %s over the %s floor in %+v", tc.figure, tc.floor, r.ReferenceRatios)
		})
	}
}

// With --reference-only there is neither loop nor floor: the reference
// floors print, and no ratio.
func TestTableOfReferenceFloorsOnly(t *testing.T) {
	t.Parallel()
	r := &Report{RunID: "r2", Target: "t", ReferenceFloors: sampleReferenceFloors()}
	r.ReferenceRatios = referenceRatios(r)
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if len(r.ReferenceRatios) != 0 || !strings.Contains(out, "naive floor: 6 steps") || !strings.Contains(out, "batched floor: 6 steps") ||
		strings.Contains(out, "loop =") {
		t.Fatalf("ratios %+v; table:\n%s", r.ReferenceRatios, out)
	}
}
