package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is a run's outcome: the table on stdout and the JSON file.
type Report struct {
	Started time.Time `json:"started"`
	RunID   string    `json:"run_id"`
	Target  string    `json:"target"`
	Model   string    `json:"model"`
	// Rate (tickets a second; 0: as fast as possible), Concurrency (reporters
	// at rate 0), Unsatisfied and Seed are the run's options.
	Rate        float64 `json:"rate"`
	Concurrency int     `json:"concurrency"`
	Unsatisfied float64 `json:"unsatisfied"`
	Seed        uint64  `json:"seed"`
	// Loop is the whole loop's run (nil with --floor-only); Work the durable
	// work per ticket it measured (nil without the database); Floor the
	// floor's run (nil without --floor); Ratios each loop figure over the floor's.
	Loop   *LoopReport  `json:"loop,omitempty"`
	Work   *Work        `json:"work_per_ticket,omitempty"`
	Floor  *FloorReport `json:"floor,omitempty"`
	Ratios []Ratio      `json:"ratios,omitempty"`
	// ReferenceFloors are the reference floors' runs (reference.go; nil
	// without them); ReferenceRatios the loop's and the floor's throughput
	// over each of theirs.
	ReferenceFloors []*ReferenceFloorReport `json:"reference_floors,omitempty"`
	ReferenceRatios []ReferenceRatio        `json:"reference_ratios,omitempty"`
	// Notes say what could not be measured, and why.
	Notes []string `json:"notes,omitempty"`
}

// LoopReport is the whole loop's run.
type LoopReport struct {
	Model          string  `json:"model"`
	WindowSeconds  float64 `json:"window_seconds"`
	DrainedSeconds float64 `json:"drained_seconds"`
	// Arrivals started; Late ones started more than 10 ms after their time
	// (the generator fell behind); MaxLagMs is the worst.
	Arrivals int     `json:"arrivals"`
	Late     int     `json:"late"`
	MaxLagMs float64 `json:"max_lag_ms"`
	// Reported tickets (Report answered); ReportFailed arrivals whose Report
	// failed; Closed of the reported (ClosedInWindow by the window's end);
	// Stuck not closed when the drain ended.
	Reported       int `json:"reported"`
	ReportFailed   int `json:"report_failed"`
	Closed         int `json:"closed"`
	ClosedInWindow int `json:"closed_in_window"`
	Stuck          int `json:"stuck"`
	// PlannedUnsatisfied tickets were to be judged unsatisfied once;
	// Reworked were reopened, resolved again and closed.
	PlannedUnsatisfied int `json:"planned_unsatisfied"`
	Reworked           int `json:"reworked"`
	// TicketsPerSecond closed within the window, over the window.
	TicketsPerSecond float64 `json:"tickets_per_second"`
	// MutatingCalls that succeeded (each one transaction).
	MutatingCalls int             `json:"mutating_calls"`
	Stages        []Stage         `json:"stages"`
	Errors        []ErrorRow      `json:"errors"`
	Processes     []ProcessReport `json:"processes"`
	// Reconnects of the watches; FilledIn events the event stream did not
	// bring, read from timelines.
	Reconnects int `json:"watch_reconnects"`
	FilledIn   int `json:"events_filled_in"`
	// TicketIDs of the reported tickets (not in the JSON file).
	TicketIDs []string `json:"-"`
}

// Clocks a stage is timed by.
const (
	clockClient = "client"
	clockServer = "server"
	clockMixed  = "server→client"
)

// Stage is one stage's latency distribution, in milliseconds.
type Stage struct {
	Name  string  `json:"name"`
	Clock string  `json:"clock"`
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func stageOf(name, clock string, s Summary) Stage {
	return Stage{Name: name, Clock: clock, Count: s.Count, P50: ms(s.P50), P95: ms(s.P95), P99: ms(s.P99), Max: ms(s.Max), Mean: ms(s.Mean)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Stage returns the stage named name, and whether there is one.
func (l *LoopReport) Stage(name string) (Stage, bool) { return findStage(l.Stages, name) }

func findStage(stages []Stage, name string) (Stage, bool) {
	for _, s := range stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}

// Ratio is a loop figure over the floor's.
type Ratio struct {
	Figure string  `json:"figure"`
	Loop   float64 `json:"loop"`
	Floor  float64 `json:"floor"`
	Ratio  float64 `json:"ratio"`
}

// ratios puts every loop figure with a floor counterpart over it: the
// throughput, the whole ticket's latency, and the CPU time per ticket of
// each process measured in both.
func ratios(l *LoopReport, f *FloorReport) []Ratio {
	var out []Ratio
	add := func(name string, loop, floor float64) {
		r := Ratio{Figure: name, Loop: loop, Floor: floor}
		if floor != 0 {
			r.Ratio = loop / floor
		}
		out = append(out, r)
	}
	add("tickets/s", l.TicketsPerSecond, f.TicketsPerSecond)
	if ls, ok := l.Stage(StageEndToEnd); ok {
		if fs, ok := findStage(f.Stages, FloorStageTicket); ok {
			add("ticket latency p50 ms", ls.P50, fs.P50)
			add("ticket latency p95 ms", ls.P95, fs.P95)
			add("ticket latency p99 ms", ls.P99, fs.P99)
			add("ticket latency max ms", ls.Max, fs.Max)
		}
	}
	for _, lp := range l.Processes {
		for _, fp := range f.Processes {
			if lp.Name == fp.Name && l.Closed > 0 && f.Done > 0 {
				add("CPU ms/ticket "+lp.Name, 1000*lp.CPUSeconds/float64(l.Closed), 1000*fp.CPUSeconds/float64(f.Done))
			}
		}
	}
	return out
}

// ReferenceRatio is a throughput of the run (tickets/s) over a reference
// floor's.
type ReferenceRatio struct {
	// Figure is "loop tickets/s" or "floor tickets/s" (the loop's own work,
	// unbatched); Value is it.
	Figure string  `json:"figure"`
	Value  float64 `json:"value"`
	// Floor names the reference floor; FloorValue is its tickets/s.
	Floor      string  `json:"reference_floor"`
	FloorValue float64 `json:"reference_floor_tickets_per_second"`
	Ratio      float64 `json:"ratio"`
}

// The figures of the reference ratios.
const (
	RefFigureLoop  = "loop tickets/s"
	RefFigureFloor = "floor tickets/s"
)

// referenceRatios puts every throughput of the run over each reference
// floor's: the loop's, and the floor's (the loop's own work, unbatched).
func referenceRatios(r *Report) []ReferenceRatio {
	var out []ReferenceRatio
	add := func(figure string, v float64) {
		for _, f := range r.ReferenceFloors {
			rr := ReferenceRatio{Figure: figure, Value: v, Floor: f.Name, FloorValue: f.TicketsPerSecond}
			if f.TicketsPerSecond != 0 {
				rr.Ratio = v / f.TicketsPerSecond
			}
			out = append(out, rr)
		}
	}
	if r.Loop != nil {
		add(RefFigureLoop, r.Loop.TicketsPerSecond)
	}
	if r.Floor != nil {
		add(RefFigureFloor, r.Floor.TicketsPerSecond)
	}
	return out
}

// ReferenceFloor returns the reference floor named name, if it ran.
func (r *Report) ReferenceFloor(name string) (*ReferenceFloorReport, bool) {
	for _, f := range r.ReferenceFloors {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// WriteJSON writes the report to path, indented.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the JSON report: %w (pass another --json)", err)
	}
	return nil
}

// WriteTable prints the report as tables.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "whistle bench %s against %s\n", r.RunID, r.Target)
	if l := r.Loop; l != nil {
		writeLoop(w, l, r.Unsatisfied)
	}
	if r.Work != nil {
		writeWork(w, r.Work)
	}
	if f := r.Floor; f != nil {
		writeFloor(w, f)
	}
	if len(r.Ratios) > 0 {
		writeRatios(w, r.Ratios)
	}
	if len(r.ReferenceFloors) > 0 {
		writeReferenceFloors(w, r.ReferenceFloors)
	}
	if len(r.ReferenceRatios) > 0 {
		writeReferenceRatios(w, r.ReferenceRatios)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

func writeLoop(w io.Writer, l *LoopReport, unsatisfied float64) {
	fmt.Fprintf(w, "\nloop: %s, %gs window (+%.1fs drain), %g%% judged unsatisfied once\n", l.Model, l.WindowSeconds,
		max(l.DrainedSeconds, 0), 100*unsatisfied)
	fmt.Fprintf(w, "  arrivals %d (%d late, max lag %.1f ms), reported %d (%d failed to report), closed %d (%d in the window), stuck %d, reworked %d of %d\n",
		l.Arrivals, l.Late, l.MaxLagMs, l.Reported, l.ReportFailed, l.Closed, l.ClosedInWindow, l.Stuck, l.Reworked, l.PlannedUnsatisfied)
	fmt.Fprintf(w, "  throughput %.2f tickets/s closed over the window; watch reconnects %d, events filled in from timelines %d\n\n",
		l.TicketsPerSecond, l.Reconnects, l.FilledIn)
	writeStages(w, l.Stages)
	writeErrors(w, l.Errors)
	writeProcesses(w, l.Processes, l.Closed)
}

func writeStages(w io.Writer, stages []Stage) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tCLOCK\t   COUNT\t  P50 ms\t  P95 ms\t  P99 ms\t  MAX ms")
	for _, s := range stages {
		fmt.Fprintf(tw, "%s\t%s\t%8d\t%8.1f\t%8.1f\t%8.1f\t%8.1f\n", s.Name, s.Clock, s.Count, s.P50, s.P95, s.P99, s.Max)
	}
	_ = tw.Flush()
}

func writeErrors(w io.Writer, rows []ErrorRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "\nerrors: none")
		return
	}
	fmt.Fprintln(w, "\nerrors:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  RPC\tCODE\tCOUNT")
	for _, e := range rows {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", e.RPC, e.Code, e.Count)
	}
	_ = tw.Flush()
}

func writeProcesses(w io.Writer, procs []ProcessReport, tickets int) {
	if len(procs) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESS\t     PID\t   CPU s\tCPU ms/ticket\tPEAK RSS MB\tRSS MB first / middle / last")
	for _, p := range procs {
		per := 0.0
		if tickets > 0 {
			per = 1000 * p.CPUSeconds / float64(tickets)
		}
		fmt.Fprintf(tw, "%s\t%8d\t%8.1f\t%13.1f\t%11.1f\t%.1f / %.1f / %.1f\n", p.Name, p.PID, p.CPUSeconds, per, mb(p.PeakRSS),
			mb(p.RSSFirst), mb(p.RSSMiddle), mb(p.RSSLast))
	}
	_ = tw.Flush()
	for _, p := range procs {
		fmt.Fprintf(w, "  %s: %s\n", p.Name, p.Measured)
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func writeWork(w io.Writer, k *Work) {
	fmt.Fprintf(w, "\nwork per ticket, counted in the outbox and inbox tables over %d tickets:\n", k.Tickets)
	fmt.Fprintf(w, "  mutating RPCs %.2f, events published %.2f, events consumed %.2f (in %.2f consume commits), relay mark-sent commits %.2f\n",
		k.MutatingRPCs, k.Published, k.Consumed, k.ConsumeCommits, k.RelayCommits)
	fmt.Fprintf(w, "  → PostgreSQL commits W = %.2f, JetStream publishes P = %.2f, consumes C = %.2f; the floor does %d, %d, %d\n",
		k.Commits, k.Published, k.Consumed, k.Floor.Commits, k.Floor.Publishes, k.Floor.Consumes)
	if k.Unsent > 0 {
		fmt.Fprintf(w, "  (%d of the run's events were still unsent in an outbox)\n", k.Unsent)
	}
}

func writeFloor(w io.Writer, f *FloorReport) {
	fmt.Fprintf(w, "\nfloor (the loop's own work, unbatched): %s, %gs window (+%.1fs drain): per ticket %d commits, %d publishes, %d consumes (stream %s: %s)\n",
		f.Model, f.WindowSeconds, max(f.DrainedSeconds, 0), f.Work.Commits, f.Work.Publishes, f.Work.Consumes, f.Stream, f.StreamStorage)
	fmt.Fprintf(w, "  arrivals %d (%d late), done %d (%d in the window), stuck %d; throughput %.2f tickets/s\n\n",
		f.Arrivals, f.Late, f.Done, f.DoneInWindow, f.Stuck, f.TicketsPerSecond)
	writeStages(w, f.Stages)
	writeErrors(w, f.Errors)
	writeProcesses(w, f.Processes, f.Done)
}

func writeRatios(w io.Writer, rs []Ratio) {
	fmt.Fprintln(w, "\nloop ÷ floor:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\t     LOOP\t    FLOOR\t   RATIO")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%9.2f\t%9.2f\t%8s\n", r.Figure, r.Loop, r.Floor, ratioText(r))
	}
	_ = tw.Flush()
}

func ratioText(r Ratio) string {
	if r.Floor == 0 {
		return "—"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", r.Ratio), "0"), ".") + "×"
}

func writeReferenceFloors(w io.Writer, floors []*ReferenceFloorReport) {
	fmt.Fprintln(w, "\nreference floors: fixed work on the same servers (docs/performance.md, \"Reference floors\")")
	var procs []string
	for _, f := range floors {
		for _, p := range f.Processes {
			if !slices.Contains(procs, p.Name) {
				procs = append(procs, p.Name)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "FLOOR\tIN FLIGHT\t   DONE\tSTUCK\tERRORS\tTICKETS/S\tP50 ms\tP99 ms"
	for _, p := range procs {
		head += "\tCPU ms/ticket " + p
	}
	fmt.Fprintln(tw, head)
	for _, f := range floors {
		t, _ := f.Stage(RefStageTicket)
		errs := 0
		for _, e := range f.Errors {
			errs += e.Count
		}
		row := fmt.Sprintf("%s\t%9d\t%7d\t%5d\t%6d\t%9.1f\t%6.1f\t%6.1f", f.Name, f.InFlight, f.Done, f.Stuck, errs, f.TicketsPerSecond, t.P50, t.P99)
		for _, p := range procs {
			if v, ok := f.CPUMsPerTicket[p]; ok {
				row += fmt.Sprintf("\t%.2f", v)
			} else {
				row += "\t—"
			}
		}
		fmt.Fprintln(tw, row)
	}
	_ = tw.Flush()
	for _, f := range floors {
		fmt.Fprintf(w, "\n%s floor: %s.\n", f.Name, f.Does)
		fmt.Fprintf(w, "  %gs window (+%.1fs drain), started %d, done %d (%d in the window), stuck %d; throughput %.2f tickets/s (stream %s: %s)\n\n",
			f.WindowSeconds, max(f.DrainedSeconds, 0), f.Started, f.Done, f.DoneInWindow, f.Stuck, f.TicketsPerSecond, f.Stream, f.StreamStorage)
		writeStages(w, f.Stages)
		for _, b := range f.Batches {
			fmt.Fprintf(w, "  %s: %d batches, mean %.1f, max %d\n", b.What, b.Batches, b.Mean, b.Max)
		}
		writeErrors(w, f.Errors)
		writeProcesses(w, f.Processes, f.Done)
	}
}

// writeReferenceRatios prints one line per figure: "loop = 0.05× batched
// floor, 0.2× naive floor".
func writeReferenceRatios(w io.Writer, rs []ReferenceRatio) {
	fmt.Fprintln(w, "\nthroughput ÷ reference floors:")
	var figures []string
	for _, r := range rs {
		if !slices.Contains(figures, r.Figure) {
			figures = append(figures, r.Figure)
		}
	}
	for _, fig := range figures {
		var parts []string
		var value float64
		for _, name := range []string{RefBatched, RefNaive} {
			for _, r := range rs {
				if r.Figure == fig && r.Floor == name {
					value = r.Value
					parts = append(parts, fmt.Sprintf("%s %s floor (%.1f tickets/s)", refRatioText(r), r.Floor, r.FloorValue))
				}
			}
		}
		who := "loop"
		if fig == RefFigureFloor {
			who = "floor (the loop's own work, unbatched)"
		}
		fmt.Fprintf(w, "  %s = %s; %.2f tickets/s\n", who, strings.Join(parts, ", "), value)
	}
}

// refRatioText is a ratio with two significant digits below 1, two
// decimals above: "0.048×", "0.2×", "1.35×".
func refRatioText(r ReferenceRatio) string {
	if r.FloorValue == 0 {
		return "—×"
	}
	if r.Ratio >= 1 {
		return ratioText(Ratio{Floor: r.FloorValue, Ratio: r.Ratio})
	}
	return strconv.FormatFloat(r.Ratio, 'g', 2, 64) + "×"
}
