package stack_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/client"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

const (
	cancelled = whistlev1.TicketStatus_TICKET_STATUS_CANCELLED
	merged    = whistlev1.TicketStatus_TICKET_STATUS_MERGED
	accepted  = whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED
	inInbox   = whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED
)

// client dials the stack as a principal with one role for an org unit, as
// whistlectl and other systems do (pkg/client).
func (s scenario) client(role auth.Role, unit string) *client.Client {
	s.t.Helper()
	c, err := client.Dial(s.ctx, s.r.Addr, client.WithToken(s.r.Token(role, unit)))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// reportHere reports a matter at a grid, at coordinates when at is set, and
// returns the response.
func (s scenario) reportHere(key, category, grid string, at *whistlev1.Coordinates, follow bool) *whistlev1.ReportResponse {
	s.t.Helper()
	resp, err := s.as(auth.RoleReporter, grid).Intake.Report(s.ctx, &whistlev1.ReportRequest{IdempotencyKey: key,
		Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_PART_TIME_GRID_WORKER, Category: category,
		Description: "snapshot " + key, Location: &whistlev1.Location{GridId: grid, Coordinates: at},
		Reporter: &whistlev1.Reporter{OrgUnitId: grid}, FollowOriginal: follow})
	if err != nil {
		s.t.Fatalf("report %s: %v", key, err)
	}
	return resp
}

// waitStatus waits until monitoring, dispatch and the inbox (if it holds
// the ticket) all show the status.
func (s scenario) waitStatus(id string, want whistlev1.TicketStatus, inbox bool) {
	s.t.Helper()
	eventually.True(s.t, fmt.Sprintf("%s %s everywhere", id, want), func() bool {
		a, err := s.monitor().Dispatch.GetAssignment(s.ctx, &whistlev1.GetAssignmentRequest{TicketId: id})
		ok := err == nil && a.GetAssignment().GetStatus() == want && s.state(id).GetStatus() == want
		return ok && (!inbox || s.item(id).GetStatus() == want)
	})
}

// figures returns a unit's scorecard figures by name, as "numerator/denominator".
func (s scenario) figures(unit string) map[string]string {
	sc, err := s.monitor().Monitoring.GetScorecard(s.ctx, &whistlev1.GetScorecardRequest{OrgUnitId: unit, Period: month})
	out := map[string]string{}
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	for _, f := range sc.GetFigures() {
		out[f.GetName()] = fmt.Sprintf("%d/%d", f.GetNumerator(), f.GetDenominator())
	}
	return out
}

// waitFigures waits until a unit's figures hold want, and reports the last seen.
func (s scenario) waitFigures(unit string, want map[string]string) {
	s.t.Helper()
	eventually.Seen(s.t, fmt.Sprintf("%s's figures %v", unit, want), func() (bool, string) {
		got := s.figures(unit)
		for k, v := range want {
			if got[k] != v {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	})
}

// TestWithdrawalUntilADepartmentAccepts takes whistles back from a
// department's inbox (the response service decides) and from triage
// (dispatch decides), refuses it after acceptance and to anyone but the
// reporting unit and those above it, races withdrawals against acceptances,
// and checks that withdrawals are counted apart from closures.
func TestWithdrawalUntilADepartmentAccepts(t *testing.T) {
	r := stacktest.Start(t)
	s := scenario{t: t, r: r, ctx: context.Background()}
	const grid, community, street = "xc-hd-dj-g01", "xc-hd-dj", "xc-hd"
	reporter := s.client(auth.RoleReporter, grid)
	me := &whistlev1.Actor{Id: "grid-worker", OrgUnitId: grid}

	// From a department's inbox: it leaves the inbox at once; a retry answers the same.
	fromInbox := s.report("w-inbox", "road_damage", grid)
	s.waitInbox(fromInbox, "xc-urban", inInbox)
	for range 2 {
		if st, err := reporter.Withdraw(s.ctx, fromInbox, "fixed by the residents", me); err != nil || st != cancelled {
			t.Fatalf("withdraw from the inbox: %v %v, want CANCELLED", st, err)
		}
	}
	s.waitStatus(fromInbox, cancelled, true)
	if got, want := s.story(fromInbox), "reported@1 dispatched@2 cancelled@3"; got != want {
		t.Fatalf("withdrawn from the inbox: %s, want %s", got, want)
	}
	open, err := s.as(auth.RoleDepartmentHandler, "xc-urban").Response.ListInbox(s.ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-urban"})
	s.do("list the inbox", err)
	for _, it := range open.GetItems() {
		if it.GetTicketId() == fromInbox {
			t.Fatalf("the withdrawn ticket is still in xc-urban's open inbox: %v", it)
		}
	}

	// From triage, by the community above the reporting grid.
	fromTriage := s.report("w-triage", "ufo_sighting", grid)
	s.waitTriage(fromTriage, street)
	if st, err := s.client(auth.RoleCommunityOfficer, community).Withdraw(s.ctx, fromTriage, "a lantern festival",
		&whistlev1.Actor{Id: "secretary", OrgUnitId: community}); err != nil || st != cancelled {
		t.Fatalf("withdraw from triage: %v %v, want CANCELLED", st, err)
	}
	s.waitStatus(fromTriage, cancelled, false)
	tl, err := s.monitor().Monitoring.GetTimeline(s.ctx, &whistlev1.GetTimelineRequest{TicketId: fromTriage})
	s.do("timeline", err)
	if last := tl.GetEntries()[len(tl.GetEntries())-1].GetSummary(); !strings.Contains(last, "withdrawn by the reporter: a lantern festival") {
		t.Fatalf("the timeline ends %q, want the withdrawal and its reason", last)
	}

	// After acceptance: refused with what to do instead, and nothing changes.
	taken := s.report("w-accepted", "road_damage", grid)
	s.waitInbox(taken, "xc-urban", inInbox)
	_, err = s.as(auth.RoleDepartmentHandler, "xc-urban").Response.Accept(s.ctx, &whistlev1.AcceptRequest{TicketId: taken,
		Actor: &whistlev1.Actor{Id: "h", OrgUnitId: "xc-urban"}})
	s.do("accept", err)
	_, err = reporter.Withdraw(s.ctx, taken, "changed my mind", me)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "accepted") ||
		!strings.Contains(err.Error(), "ask the department") {
		t.Fatalf("withdraw after acceptance: %v, want FailedPrecondition saying what to do instead", err)
	}
	if it := s.item(taken); it.GetStatus() != accepted {
		t.Fatalf("a refused withdrawal changed the ticket: %v", it.GetStatus())
	}

	// Nobody else may: another grid's reporter does not see it; a department may not withdraw at all.
	another := s.report("w-others", "road_damage", grid)
	s.waitInbox(another, "xc-urban", inInbox)
	if _, err := s.client(auth.RoleReporter, "xc-hd-dj-g02").Withdraw(s.ctx, another, "not mine",
		&whistlev1.Actor{Id: "x", OrgUnitId: "xc-hd-dj-g02"}); status.Code(err) != codes.NotFound {
		t.Errorf("another grid's reporter withdrawing: %v, want NotFound", err)
	}
	if _, err := s.client(auth.RoleDepartmentHandler, "xc-urban").Withdraw(s.ctx, another, "too hard",
		&whistlev1.Actor{Id: "h", OrgUnitId: "xc-urban"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("the department withdrawing: %v, want PermissionDenied", err)
	}
	if it := s.item(another); it.GetStatus() != inInbox {
		t.Fatalf("refused withdrawals changed the ticket: %v", it.GetStatus())
	}

	// A withdrawal and an acceptance at the same moment: exactly one wins, and every service agrees.
	const racing = 6
	withdrawn := 2 // fromInbox, fromTriage
	for i := range racing {
		id := s.report(fmt.Sprint("w-race-", i), "road_damage", grid)
		s.waitInbox(id, "xc-urban", inInbox)
		var wg sync.WaitGroup
		var acceptErr, withdrawErr error
		wg.Go(func() {
			_, acceptErr = s.as(auth.RoleDepartmentHandler, "xc-urban").Response.Accept(s.ctx, &whistlev1.AcceptRequest{TicketId: id,
				Actor: &whistlev1.Actor{Id: "h", OrgUnitId: "xc-urban"}})
		})
		wg.Go(func() {
			_, withdrawErr = s.as(auth.RoleReporter, grid).Response.WithdrawFromInbox(s.ctx,
				&whistlev1.WithdrawFromInboxRequest{TicketId: id, Reason: "race", Actor: me})
		})
		wg.Wait()
		if (acceptErr == nil) == (withdrawErr == nil) {
			t.Fatalf("race %d: accept %v, withdraw %v; want exactly one to win", i, acceptErr, withdrawErr)
		}
		for _, err := range []error{acceptErr, withdrawErr} {
			if err != nil && status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("race %d: the loser got %v, want FailedPrecondition", i, err)
			}
		}
		if withdrawErr == nil {
			withdrawn++
			s.waitStatus(id, cancelled, true)
		} else {
			s.waitStatus(id, accepted, true)
		}
	}

	// Counted apart from closures: nothing closed, nothing due to close.
	t.Logf("%d of %d races won by the withdrawal", withdrawn-2, racing)
	s.waitFigures(community, map[string]string{"withdrawn": fmt.Sprintf("%d/1", withdrawn),
		"cancelled": fmt.Sprintf("%d/1", withdrawn), "closing_rate": "0/0"})
}

// TestASecondReportNearbyIsOfferedTheFirstAndMerged reports a pothole, then
// the same pothole 30 m away: the second report is offered the first as a
// duplicate, merged into it by the street, counted once, and its resident
// judges the original's result with their own code.
func TestASecondReportNearbyIsOfferedTheFirstAndMerged(t *testing.T) {
	r := stacktest.Start(t)
	s := scenario{t: t, r: r, ctx: context.Background()}
	const grid, community, street = "xc-hd-dj-g01", "xc-hd-dj", "xc-hd"
	here := &whistlev1.Coordinates{Latitude: 39.9400, Longitude: 116.4000}
	north := func(m float64) *whistlev1.Coordinates {
		return &whistlev1.Coordinates{Latitude: here.GetLatitude() + m/111_195, Longitude: here.GetLongitude()}
	}

	first := s.reportHere("pothole-1", "road_damage", grid, here, false)
	original := first.GetTicket().GetId()
	if len(first.GetDuplicates()) != 0 {
		t.Fatalf("the first report is offered duplicates: %v", first.GetDuplicates())
	}
	second := s.reportHere("pothole-2", "road_damage", grid, north(30), false)
	dup := second.GetTicket().GetId()
	if d := second.GetDuplicates(); len(d) != 1 || d[0].GetTicketId() != original || math.Abs(d[0].GetDistanceMeters()-30) > 0.5 ||
		d[0].GetTicketNumber() != first.GetTicket().GetNumber() || d[0].GetSameGrid() {
		t.Fatalf("the second report, 30 m away, is offered %v; want the first at 30 m", d)
	}
	if !second.GetCreated() || dup == "" {
		t.Fatalf("the second report was not accepted: %v", second)
	}
	// Not offered: the same matter 400 m away (in the next grid), another matter 10 m away.
	for _, tc := range []struct {
		name, key, category, grid string
		at                        *whistlev1.Coordinates
	}{{"400 m away", "far", "road_damage", "xc-hd-dj-g02", north(400)}, {"of another matter", "drain", "drain_blocked", grid, north(10)}} {
		if d := s.reportHere(tc.key, tc.category, tc.grid, tc.at, false).GetDuplicates(); len(d) != 0 {
			t.Errorf("a report %s is offered %v", tc.name, d)
		}
	}
	// Asked to follow the original instead: nothing is created.
	third := s.reportHere("pothole-3", "road_damage", grid, north(5), true)
	if third.GetTicket() != nil || third.GetCreated() || third.GetFollowedTicketId() != original || len(third.GetDuplicates()) != 2 {
		t.Fatalf("a report that follows the original: %v; want no ticket and one to follow", third)
	}

	// The street merges the duplicate (in xc-urban's inbox: the response service decides).
	s.waitInbox(dup, "xc-urban", inInbox)
	s.waitInbox(original, "xc-urban", inInbox)
	drain := s.ticketOf("drain", grid)
	s.waitInbox(drain, "xc-water", inInbox)
	officer := s.client(auth.RoleStreetOfficer, street)
	by := &whistlev1.Actor{Id: "street-officer", OrgUnitId: street}
	for _, tc := range []struct {
		name      string
		c         *client.Client
		by        *whistlev1.Actor
		dup, into string
		want      codes.Code
		says      string
	}{
		{"into itself", officer, by, dup, dup, codes.InvalidArgument, "itself"},
		{"across matters unsaid", officer, by, dup, drain, codes.FailedPrecondition, "across_matters"},
		{"by a community", s.client(auth.RoleCommunityOfficer, community), &whistlev1.Actor{Id: "c", OrgUnitId: community}, dup, original,
			codes.PermissionDenied, ""},
		{"by another street", s.client(auth.RoleStreetOfficer, "yq-ht"), &whistlev1.Actor{Id: "o", OrgUnitId: "yq-ht"}, dup, original,
			codes.NotFound, ""},
	} {
		_, err := tc.c.Merge(s.ctx, tc.dup, tc.into, "the same pothole", false, tc.by)
		if status.Code(err) != tc.want || !strings.Contains(fmt.Sprint(err), tc.says) {
			t.Errorf("merge %s: %v, want %s saying %q", tc.name, err, tc.want, tc.says)
		}
	}
	if it := s.item(dup); it.GetStatus() != inInbox {
		t.Fatalf("refused merges changed the duplicate: %v", it.GetStatus())
	}
	if st, err := officer.Merge(s.ctx, dup, original, "the same pothole", false, by); err != nil || st != merged {
		t.Fatalf("merge: %v %v, want MERGED", st, err)
	}
	s.waitStatus(dup, merged, true)
	if got, want := s.story(dup), "reported@1 dispatched@2 merged@3"; got != want {
		t.Fatalf("the duplicate's story: %s, want %s", got, want)
	}
	eventually.Seen(t, "the original's timeline to list the duplicate", func() (bool, string) {
		tl, err := s.monitor().Monitoring.GetTimeline(s.ctx, &whistlev1.GetTimelineRequest{TicketId: original})
		d := tl.GetDuplicates()
		return err == nil && len(d) == 1 && d[0].GetTicketId() == dup && d[0].GetTicketNumber() == second.GetTicket().GetNumber(),
			fmt.Sprint(d, err)
	})
	if _, err := officer.Merge(s.ctx, original, dup, "the other way round", false, by); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(err.Error(), "closed, cancelled or merged") {
		t.Errorf("merging into a merged ticket: %v, want FailedPrecondition", err)
	}
	eventually.Seen(t, "the merged duplicate to leave the open tickets", func() (bool, string) {
		found, err := s.as(auth.RoleStreetOfficer, street).Intake.FindDuplicates(s.ctx, &whistlev1.FindDuplicatesRequest{Ticket: original})
		return err == nil && len(found.GetDuplicates()) == 0, fmt.Sprint(found.GetDuplicates(), err)
	})

	// The matter counts once: four reports routed (the pothole twice, the far one, the drain), one merged.
	s.waitFigures(community, map[string]string{"reported": "3/1", "merged": "1/1", "dispatched": "3/1"})

	// The duplicate's resident judges the original with their own code; the original closes.
	s.finishUntilEvaluation(original, "xc-urban")
	_, err := r.Clients.Evaluation.Evaluate(s.ctx, &whistlev1.EvaluateRequest{TicketId: dup, Verdict: whistlev1.Verdict_VERDICT_SATISFIED,
		Source: whistlev1.EvaluationSource_EVALUATION_SOURCE_RESIDENT, EvaluationCode: second.GetEvaluationCode(),
		Evaluator: &whistlev1.Actor{Id: "resident", OrgUnitId: "resident"}})
	s.do("the duplicate's resident judges", err)
	eventually.True(t, "the original closed", func() bool {
		return s.state(original).GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_CLOSED
	})
}

// ticketOf returns the ticket a grid reported with a key.
func (s scenario) ticketOf(key, grid string) string {
	s.t.Helper()
	resp, err := s.as(auth.RoleReporter, grid).Intake.ListTickets(s.ctx, &whistlev1.ListTicketsRequest{ReporterOrgUnitId: grid, PageSize: 500})
	s.do("list tickets", err)
	for _, tk := range resp.GetTickets() {
		if tk.GetIdempotencyKey() == key {
			return tk.GetId()
		}
	}
	s.t.Fatalf("no ticket reported with key %s", key)
	return ""
}

// finishUntilEvaluation accepts and resolves a ticket dispatched to dept,
// and waits until its evaluation is open.
func (s scenario) finishUntilEvaluation(id, dept string) {
	s.t.Helper()
	who, handler := &whistlev1.Actor{Id: "h", OrgUnitId: dept}, s.as(auth.RoleDepartmentHandler, dept)
	_, err := handler.Response.Accept(s.ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: who})
	s.do("accept", err)
	_, err = handler.Response.Resolve(s.ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: who, Result: "filled",
		MissingAssistsReason: "none needed"})
	s.do("resolve", err)
	eventually.True(s.t, "the evaluation of "+id, func() bool {
		e, err := s.monitor().Evaluation.GetEvaluation(s.ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
		return err == nil && e.GetEvaluation().GetState() == whistlev1.EvaluationState_EVALUATION_STATE_OPEN
	})
}
