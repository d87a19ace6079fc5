package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestBenchDrivesTheWholeLoop runs the bench for a few seconds at a low rate
// against the real stack (PostgreSQL, JetStream, all five services).
func TestBenchDrivesTheWholeLoop(t *testing.T) {
	t.Parallel()
	r := stacktest.Start(t)
	d := &Deployment{Describe: "the test stack", Clients: r.Clients, As: r.LoopAs, City: r.City,
		DatabaseURL: r.Config.DatabaseURL, NATSOptions: r.Config.NATSOptions, Stream: r.Config.Bus.Stream}
	rep, err := Run(context.Background(), d, Options{Rate: 5, Duration: 4 * time.Second, Drain: time.Minute,
		Unsatisfied: 0.3, Seed: 3, RunID: "itest"})
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Loop
	if l.Reported == 0 || l.Reported != l.Arrivals || l.Closed != l.Reported || l.Stuck != 0 {
		t.Fatalf("%d arrivals, %d reported, %d closed, %d stuck: every arrival must be reported and closed",
			l.Arrivals, l.Reported, l.Closed, l.Stuck)
	}
	if len(l.Errors) > 0 {
		t.Fatalf("errors: %+v", l.Errors)
	}
	if l.PlannedUnsatisfied == 0 || l.Reworked != l.PlannedUnsatisfied {
		t.Fatalf("%d tickets reworked of %d planned unsatisfied; want all, and some", l.Reworked, l.PlannedUnsatisfied)
	}
	checkStages(t, l)
	checkClosed(t, r, l.TicketIDs)
	checkWork(t, rep.Work, l.Reported)
	checkJSON(t, rep)
}

// checkStages asserts every stage happened, with ordered, non-zero figures.
func checkStages(t *testing.T, l *LoopReport) {
	t.Helper()
	names := []string{StageReport, StageDispatch, StageInbox, StageAccept, StageResolve, StageEvaluationOpen, StageEvaluate,
		StageClose, StageEndToEnd}
	for _, name := range names {
		s, ok := l.Stage(name)
		switch {
		case !ok || s.Count == 0:
			t.Errorf("stage %q has no samples", name)
		case s.P50 <= 0:
			t.Errorf("stage %q: p50 %g ms, want more than 0", name, s.P50)
		case !(s.P50 <= s.P95 && s.P95 <= s.P99 && s.P99 <= s.Max):
			t.Errorf("stage %q out of order: %+v", name, s)
		}
	}
	if s, _ := l.Stage(StageEvaluate); s.Count != l.Reported+l.Reworked {
		t.Errorf("%d evaluations timed, want one per round: %d", s.Count, l.Reported+l.Reworked)
	}
}

// checkClosed asserts monitoring shows every reported ticket closed.
func checkClosed(t *testing.T, r *stacktest.Running, ids []string) {
	t.Helper()
	monitor := r.As(auth.RoleMonitor, r.City)
	for _, id := range ids {
		tl, err := monitor.Monitoring.GetTimeline(context.Background(), &whistlev1.GetTimelineRequest{TicketId: id})
		if err != nil || tl.GetState().GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_CLOSED || !tl.GetState().GetSynthetic() {
			t.Errorf("ticket %s: %v %v, want a closed synthetic ticket", id, tl.GetState(), err)
		}
	}
}

// checkWork asserts the work per ticket was counted and adds up.
func checkWork(t *testing.T, w *Work, tickets int) {
	t.Helper()
	if w == nil || w.Tickets != tickets {
		t.Fatalf("work per ticket %+v, want it counted over %d tickets", w, tickets)
	}
	// At least report, accept, resolve, evaluate; at least reported,
	// dispatched, accepted, resolved, evaluated, closed published.
	if w.MutatingRPCs < 4 || w.Published < 6 || w.Consumed < w.Published || w.ConsumeCommits > w.Consumed ||
		w.RelayCommits <= 0 || w.Unsent != 0 {
		t.Fatalf("work per ticket %+v does not look like the loop's", w)
	}
	if d := w.Commits - (w.MutatingRPCs + w.ConsumeCommits + w.RelayCommits); d > 1e-9 || d < -1e-9 {
		t.Fatalf("commits %g is not the sum of its parts", w.Commits)
	}
}

// checkJSON asserts the JSON file decodes to the same figures.
func checkJSON(t *testing.T, rep *Report) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("the JSON report does not decode: %v", err)
	}
	if got.Loop == nil || got.Loop.Closed != rep.Loop.Closed || len(got.Loop.Stages) != len(rep.Loop.Stages) || got.Work == nil {
		t.Fatalf("JSON report %+v differs from the run's", got.Loop)
	}
}
