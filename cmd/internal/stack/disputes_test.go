package stack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/services/dispatch"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

var cst = time.FixedZone("CST", 8*3600)

// scenario acts in a running stack, each call as the principal who would make it.
type scenario struct {
	t   *testing.T
	r   *stacktest.Running
	ctx context.Context
}

// as returns clients acting as a principal with one role for an org unit.
func (s scenario) as(role auth.Role, orgUnit string) loop.Clients { return s.r.As(role, orgUnit) }

// monitor returns clients acting as the city's monitor.
func (s scenario) monitor() loop.Clients { return s.r.As(auth.RoleMonitor, s.r.City) }

func (s scenario) report(key, category, grid string) string {
	s.t.Helper()
	resp, err := s.as(auth.RoleReporter, grid).Intake.Report(s.ctx, &whistlev1.ReportRequest{IdempotencyKey: key, Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		Source: whistlev1.Source_SOURCE_GRID_PATROL, Category: category, Description: "e2e " + key,
		Location: &whistlev1.Location{GridId: grid}, Reporter: &whistlev1.Reporter{OrgUnitId: grid}})
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.GetTicket().GetId()
}

// item returns the ticket's inbox item, read by its lead department.
func (s scenario) item(id string) *whistlev1.InboxItem {
	lead := s.state(id).GetLeadDepartmentId()
	if lead == "" {
		return nil
	}
	resp, err := s.as(auth.RoleDepartmentHandler, lead).Response.GetInboxItem(s.ctx, &whistlev1.GetInboxItemRequest{TicketId: id})
	if err != nil {
		return nil
	}
	return resp.GetItem()
}

func (s scenario) waitInbox(id, dept string, st whistlev1.TicketStatus) {
	s.t.Helper()
	eventually.True(s.t, fmt.Sprintf("%s in %s's inbox as %s", id, dept, st), func() bool {
		it := s.item(id)
		return it.GetDepartmentId() == dept && it.GetStatus() == st
	})
}

func (s scenario) waitTriage(id, unit string) *whistlev1.Assignment {
	s.t.Helper()
	var found *whistlev1.Assignment
	eventually.True(s.t, id+" in triage at "+unit, func() bool {
		resp, err := s.as(auth.RoleStreetOfficer, unit).Dispatch.ListTriage(s.ctx, &whistlev1.ListTriageRequest{OrgUnitId: unit})
		for _, a := range resp.GetAssignments() {
			if err == nil && a.GetTicketId() == id {
				found = a
				return true
			}
		}
		return false
	})
	return found
}

func (s scenario) do(what string, err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

// finish accepts, resolves and evaluates a ticket dispatched to dept, and
// waits until monitoring shows it closed.
func (s scenario) finish(id, dept, community string) {
	s.t.Helper()
	s.waitInbox(id, dept, whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED)
	who, handler := &whistlev1.Actor{Id: "h", OrgUnitId: dept}, s.as(auth.RoleDepartmentHandler, dept)
	_, err := handler.Response.Accept(s.ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: who})
	s.do("accept", err)
	for _, a := range s.item(id).GetAssists() {
		_, err := s.as(auth.RoleDepartmentHandler, a.GetDepartmentId()).Response.ReportAssist(s.ctx, &whistlev1.ReportAssistRequest{TicketId: id, Note: "helped",
			Actor: &whistlev1.Actor{Id: "a", OrgUnitId: a.GetDepartmentId()}})
		s.do("report assist", err)
	}
	_, err = handler.Response.Resolve(s.ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: who, Result: "done"})
	s.do("resolve", err)
	judge := s.as(auth.RoleCommunityOfficer, community)
	eventually.True(s.t, "evaluation to open", func() bool {
		e, err := judge.Evaluation.GetEvaluation(s.ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
		return err == nil && e.GetEvaluation().GetState() == whistlev1.EvaluationState_EVALUATION_STATE_OPEN
	})
	_, err = judge.Evaluation.Evaluate(s.ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: whistlev1.Verdict_VERDICT_SATISFIED,
		Evaluator: &whistlev1.Actor{Id: "e", OrgUnitId: community}})
	s.do("evaluate", err)
	eventually.True(s.t, id+" closed", func() bool { return s.state(id).GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_CLOSED })
}

// lostSeesNoLater checks that a department that returned a ticket, which
// went to another, sees its timeline only up to its return and no longer
// finds the ticket's assignment or inbox item.
func (s scenario) lostSeesNoLater(id, dept, want string) {
	s.t.Helper()
	c := s.as(auth.RoleDepartmentHandler, dept)
	tl, err := c.Monitoring.GetTimeline(s.ctx, &whistlev1.GetTimelineRequest{TicketId: id})
	if err != nil {
		s.t.Fatalf("%s's timeline of a ticket it returned: %v", dept, err)
	}
	var got []string
	for _, e := range tl.GetEntries() {
		got = append(got, fmt.Sprintf("%s@%d", e.GetEventType(), e.GetVersion()))
	}
	if strings.Join(got, " ") != want || tl.GetState().GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_RETURNED ||
		tl.GetState().GetLeadDepartmentId() != "" {
		s.t.Fatalf("%s, which returned the ticket, sees %s and state %v; want only %s", dept, strings.Join(got, " "), tl.GetState(), want)
	}
	if _, err := c.Dispatch.GetAssignment(s.ctx, &whistlev1.GetAssignmentRequest{TicketId: id}); status.Code(err) != codes.NotFound {
		s.t.Errorf("%s reads the assignment of a ticket it returned: %v, want NotFound", dept, err)
	}
	if _, err := c.Response.GetInboxItem(s.ctx, &whistlev1.GetInboxItemRequest{TicketId: id}); status.Code(err) != codes.NotFound {
		s.t.Errorf("%s reads the inbox item of a ticket it returned: %v, want NotFound", dept, err)
	}
}

func (s scenario) state(id string) *whistlev1.TicketState {
	tl, err := s.monitor().Monitoring.GetTimeline(s.ctx, &whistlev1.GetTimelineRequest{TicketId: id})
	if err != nil {
		return nil
	}
	return tl.GetState()
}

func (s scenario) story(id string) string {
	s.t.Helper()
	tl, err := s.monitor().Monitoring.GetTimeline(s.ctx, &whistlev1.GetTimelineRequest{TicketId: id})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range tl.GetEntries() {
		out = append(out, fmt.Sprintf("%s@%d", e.GetEventType(), e.GetVersion()))
	}
	return strings.Join(out, " ")
}

// TestDisputesDeadlinesAndTriage drives, through all five services, a
// ticket that is returned twice, arbitrated and closed; one that goes overdue
// and is escalated twice before it is handled; and an off-catalog ticket
// dispatched by hand from triage.
func TestDisputesDeadlinesAndTriage(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 9, 0, 0, 0, cst)) // a Thursday morning
	r := stacktest.StartWith(t, stacktest.Options{Clock: clk, Dispatch: dispatch.Config{SchedulerEvery: 10 * time.Millisecond}})
	s := scenario{t: t, r: r, ctx: context.Background()}
	const grid, community = "xc-hd-dj-g01", "xc-hd-dj"

	// Returned, re-routed to the catalog's alternative, returned again, arbitrated, closed.
	disputed := s.report("dispute", "drain_blocked", grid)
	s.waitInbox(disputed, "xc-water", whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED)
	_, err := s.as(auth.RoleDepartmentHandler, "xc-water").Response.Return(s.ctx, &whistlev1.ReturnRequest{TicketId: disputed,
		ReasonCode: whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION,
		Note:       "a street drain, not a water main", Actor: &whistlev1.Actor{Id: "w", OrgUnitId: "xc-water"}})
	s.do("return by water", err)
	s.waitInbox(disputed, "xc-urban", whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED)
	_, err = s.as(auth.RoleDepartmentHandler, "xc-urban").Response.Return(s.ctx, &whistlev1.ReturnRequest{TicketId: disputed,
		ReasonCode: whistlev1.ReturnReason_RETURN_REASON_OVERLAPPING_DUTIES,
		Note:       "the pipes are water's", Actor: &whistlev1.Actor{Id: "u", OrgUnitId: "xc-urban"}})
	s.do("return by urban management", err)
	if a := s.waitTriage(disputed, "xc-hd"); !a.GetArbitration() {
		t.Fatalf("not sent to arbitration: %v", a)
	}
	_, err = s.as(auth.RoleStreetOfficer, "xc-hd").Dispatch.Arbitrate(s.ctx, &whistlev1.ArbitrateRequest{TicketId: disputed, DepartmentId: "xc-water",
		Note: "blocked by a broken water pipe", Actor: &whistlev1.Actor{Id: "street-officer", OrgUnitId: "xc-hd"}})
	s.do("arbitrate", err)
	eventually.True(t, "the binding assignment", func() bool { return s.item(disputed).GetBinding() })
	s.finish(disputed, "xc-water", community)
	if got, want := s.story(disputed), "reported@1 dispatched@2 returned@3 dispatched@4 returned@5 triaged@6 arbitrated@7 accepted@8 resolved@9 evaluation_opened@9 evaluated@9 closed@10"; got != want {
		t.Fatalf("disputed ticket\n got %s\nwant %s", got, want)
	}
	s.lostSeesNoLater(disputed, "xc-urban", "reported@1 dispatched@2 returned@3 dispatched@4 returned@5")

	// Overdue: accept within 2 working hours (9:00 → 11:00), then another 2 (→ 14:30).
	late := s.report("late", "road_damage", grid)
	s.waitInbox(late, "xc-urban", whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED)
	clk.Set(time.Date(2026, 11, 26, 11, 0, 0, 0, cst))
	eventually.True(t, "escalation to the street", func() bool { return s.state(late).GetEscalationLevel() == 1 })
	clk.Set(time.Date(2026, 11, 26, 14, 30, 0, 0, cst))
	eventually.True(t, "escalation to the district", func() bool { return s.state(late).GetEscalationLevel() == 2 })
	eventually.True(t, "the inbox to show level 2", func() bool { return s.item(late).GetEscalationLevel() == 2 })
	s.finish(late, "xc-urban", community)
	if got := s.story(late); !strings.Contains(got, "dispatched@2 escalated@2 escalated@2 accepted@3") {
		t.Fatalf("overdue ticket: %s", got)
	}

	// Off-catalog: waits at the street until an officer dispatches it by hand.
	odd := s.report("odd", "ufo_sighting", grid)
	s.waitTriage(odd, "xc-hd")
	_, err = s.as(auth.RoleStreetOfficer, "xc-hd").Dispatch.Dispatch(s.ctx, &whistlev1.DispatchRequest{TicketId: odd, LeadDepartmentId: "xc-env",
		AcceptWithin: durationpb.New(time.Hour), ResolveWithin: durationpb.New(14 * time.Hour), Note: "lights at night: light pollution",
		Actor: &whistlev1.Actor{Id: "street-officer", OrgUnitId: "xc-hd"}})
	s.do("dispatch by hand", err)
	s.finish(odd, "xc-env", community)
	if got, want := s.story(odd), "reported@1 triaged@2 dispatched@3 accepted@4 resolved@5 evaluation_opened@5 evaluated@5 closed@6"; got != want {
		t.Fatalf("off-catalog ticket\n got %s\nwant %s", got, want)
	}
}
