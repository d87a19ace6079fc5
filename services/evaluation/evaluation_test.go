package evaluation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/evalcode"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/evaluation"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

type fixture struct {
	clock  *clock.Fake
	svc    *evaluation.Service
	deps   platform.Deps
	p      *inbox.Processor
	client whistlev1.EvaluationServiceClient
}

// codeKeys are the evaluation code keys of the tests.
var codeKeys = func() *evalcode.Keys {
	k, err := evalcode.New([]byte("the evaluation code key of the tests, 32+ bytes"))
	if err != nil {
		panic(err)
	}
	return k
}()

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, evaluation.Config{}) }

func newFixtureWith(t *testing.T, cfg evaluation.Config) *fixture {
	t.Helper()
	clk := clock.NewFake(now)
	if cfg.Codes == nil {
		cfg.Codes = codeKeys
	}
	deps := platformtest.Deps(t, evaluation.Name, evaluation.Migrations(), nil, clk)
	svc, err := evaluation.New(deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn := grpctest.Serve(t, grpcserver.Options{Log: deps.Log}, svc.Register)
	return &fixture{clock: clk, svc: svc, deps: deps, p: &inbox.Processor{DB: deps.DB, Consumer: "test", Apply: evaluation.Apply(svc)},
		client: whistlev1.NewEvaluationServiceClient(conn)}
}

func (f *fixture) deliver(t *testing.T, ev *whistlev1.Event) {
	t.Helper()
	if _, err := f.p.Process(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// reported announces a ticket reported from a grid of community xc-hd-dj, and
// dispatched there, so that the community may evaluate it.
func (f *fixture) reported(t *testing.T, id, grid string) {
	t.Helper()
	community := grid[:strings.LastIndex(grid, "-")]
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, Version: 1, OccurredAt: now}, &whistlev1.TicketReported{
		Ticket: &whistlev1.Ticket{Id: id, Reporter: &whistlev1.Reporter{OrgUnitId: grid}}}))
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, Version: 2, OccurredAt: now}, &whistlev1.TicketDispatched{
		AreaIds: []string{grid, community, "xc-hd", "xc", "hh"}}))
}

func (f *fixture) resolved(t *testing.T, id string, version int64) {
	t.Helper()
	if version == 4 {
		f.reported(t, id, "xc-hd-dj-g01")
	}
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-1", Version: version, OccurredAt: now,
		Producer: "response"}, &whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "fixed"}))
}

// verdicts returns the events of the outbox but the announcements of rounds
// (evaluation_opened, which TestOpeningARoundAnnouncesIt checks).
func (f *fixture) verdicts(t *testing.T) []*whistlev1.Event {
	t.Helper()
	var out []*whistlev1.Event
	for _, ev := range platformtest.Outbox(t, f.deps.DB) {
		if events.TypeOf(ev) != events.EvaluationOpened {
			out = append(out, ev)
		}
	}
	return out
}

var community = &whistlev1.Actor{Id: "officer-7", OrgUnitId: "xc-hd-dj", DisplayName: "Zhao"}

func TestUnsatisfiedReopensThenSatisfiedCloses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := ids.New()
	f.resolved(t, id, 4)
	resp, err := f.client.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED,
		Comment: "still broken", ReasonCodes: []string{"not_fixed"}, Evaluator: community})
	if err != nil || resp.GetEvaluation().GetState() != whistlev1.EvaluationState_EVALUATION_STATE_DONE {
		t.Fatalf("evaluate: %v, %v", resp, err)
	}
	evs := platformtest.Outbox(t, f.deps.DB)
	if len(evs) != 3 || evs[0].GetEvaluationOpened().GetRound() != 1 || evs[0].GetTicketVersion() != 4 ||
		evs[1].GetEvaluated().GetRound() != 1 || evs[1].GetTicketVersion() != 4 ||
		evs[2].GetReopened().GetReworkCount() != 1 || evs[2].GetTicketVersion() != 5 ||
		evs[2].GetReopened().GetComment() != "still broken" {
		t.Fatalf("events %v", evs)
	}
	// A second verdict in the same round is refused and changes nothing.
	_, err = f.client.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_SATISFIED, Evaluator: community})
	if status.Code(err) != codes.FailedPrecondition || len(platformtest.Outbox(t, f.deps.DB)) != 3 {
		t.Fatalf("second verdict: %v (%d events)", err, len(platformtest.Outbox(t, f.deps.DB)))
	}
	// Reworked and resolved again: round 2, satisfied closes at version 7.
	f.resolved(t, id, 6)
	if _, err := f.client.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_BASICALLY_SATISFIED, Evaluator: community}); err != nil {
		t.Fatal(err)
	}
	evs = platformtest.Outbox(t, f.deps.DB)
	if len(evs) != 6 || evs[3].GetEvaluationOpened().GetRound() != 2 || evs[3].GetTicketVersion() != 6 ||
		evs[4].GetEvaluated().GetRound() != 2 || evs[4].GetTicketVersion() != 6 ||
		evs[5].GetClosed().GetFinalVerdict() != whistlev1.Verdict_VERDICT_BASICALLY_SATISFIED || evs[5].GetTicketVersion() != 7 {
		t.Fatalf("events %v", evs)
	}
	// The old resolution delivered again changes nothing.
	f.resolved(t, id, 4)
	got, _ := f.client.GetEvaluation(ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
	if got.GetEvaluation().GetRound() != 2 || got.GetEvaluation().GetState() != whistlev1.EvaluationState_EVALUATION_STATE_DONE {
		t.Fatalf("after a stale resolution: %v", got)
	}
}

func TestOpenEvaluationsByReporter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mine, theirs := ids.New(), ids.New()
	for _, id := range []string{mine, theirs} {
		org := "xc-hd-dj"
		if id == theirs {
			org = "xc-hd-wy"
		}
		f.reported(t, id, org+"-g01")
		f.deliver(t, events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-1", Version: 4, OccurredAt: now,
			Producer: "response"}, &whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "fixed"}))
	}
	resp, err := f.client.ListOpenEvaluations(context.Background(), &whistlev1.ListOpenEvaluationsRequest{ReporterOrgUnitId: "xc-hd-dj-g01"})
	if err != nil || len(resp.GetEvaluations()) != 1 || resp.GetEvaluations()[0].GetTicketId() != mine {
		t.Fatalf("open for xc-hd-dj: %v, %v", resp, err)
	}
}

func TestBadVerdictsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := ids.New()
	f.resolved(t, id, 4)
	tests := []struct {
		name string
		req  *whistlev1.EvaluateRequest
		code codes.Code
		msg  string
	}{
		{"no verdict", &whistlev1.EvaluateRequest{TicketId: id, Evaluator: community}, codes.InvalidArgument, "verdict"},
		{"unknown verdict", &whistlev1.EvaluateRequest{TicketId: id, Verdict: 9, Evaluator: community}, codes.InvalidArgument, "verdict"},
		{"no evaluator", &whistlev1.EvaluateRequest{TicketId: id, Verdict: 1}, codes.InvalidArgument, "evaluator"},
		{"bad reason code", &whistlev1.EvaluateRequest{TicketId: id, Verdict: 3, ReasonCodes: []string{"Not Fixed!"}, Evaluator: community}, codes.InvalidArgument, "reason_codes"},
		{"huge comment", &whistlev1.EvaluateRequest{TicketId: id, Verdict: 1, Comment: strings.Repeat("x", 2001), Evaluator: community}, codes.InvalidArgument, "comment"},
		{"never resolved", &whistlev1.EvaluateRequest{TicketId: ids.New(), Verdict: 1, Evaluator: community}, codes.NotFound, "not been resolved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.client.Evaluate(context.Background(), tt.req)
			if status.Code(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want %s mentioning %q", err, tt.code, tt.msg)
			}
		})
	}
	if n := len(f.verdicts(t)); n != 0 {
		t.Fatalf("bad verdicts wrote %d events", n)
	}
}
