package stack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// november is the month the import tests live through: past, and with no holiday.
var november = &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_MONTH, Date: "2026-11-01"}

// planned is one whistle of the month: reported on a weekday morning,
// accepted, resolved and judged within 100 minutes, before any accept
// window (2 hours) of a ticket waiting meanwhile could pass, so nothing is
// ever escalated; or withdrawn; rework sends it back once before it is
// judged satisfied.
type planned struct {
	key, category, grid string
	day                 int
	rework, withdraw    bool
}

var plannedMonth = []planned{
	{key: "m1", category: "road_damage", grid: "xc-hd-dj-g01", day: 2},
	{key: "m2", category: "street_light_out", grid: "xc-hd-dj-g02", day: 3},
	{key: "m3", category: "garbage_overflow", grid: "xc-hd-wy-g01", day: 4, rework: true},
	{key: "m4", category: "water_leak", grid: "xc-xh-jy-g01", day: 5, withdraw: true},
	// The same drain three times in a week: a hot spot, and its proactive ticket.
	{key: "m5", category: "drain_blocked", grid: "xc-hd-dj-g01", day: 9},
	{key: "m6", category: "drain_blocked", grid: "xc-hd-dj-g01", day: 10},
	{key: "m7", category: "drain_blocked", grid: "xc-hd-dj-g01", day: 11},
	{key: "m8", category: "road_damage", grid: "xc-hd-wy-g02", day: 16},
	{key: "m9", category: "drain_blocked", grid: "xc-hd-dj-g02", day: 18},
	{key: "m10", category: "garbage_overflow", grid: "xc-xh-jy-g01", day: 23, rework: true},
	{key: "m11", category: "street_light_out", grid: "xc-hd-dj-g01", day: 25},
}

// TestAnImportedMonthCountsAsIfItHadHappenedLive drives a month of whistles
// through the API of one stack on a fake clock, exports each ticket's life
// as the import format, imports the file into a second stack and compares
// what monitoring shows: scorecards of every level, rankings, counts and hot
// spots are the same, and no proactive ticket is raised for the imported hot
// spot. Importing the file again changes nothing.
func TestAnImportedMonthCountsAsIfItHadHappenedLive(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 2, 8, 0, 0, 0, cst))
	live := scenario{t: t, r: stacktest.StartWith(t, stacktest.Options{Clock: clk}), ctx: context.Background()}
	var file []*whistlev1.ImportedTicket
	handled := map[string]bool{}
	for _, p := range plannedMonth {
		at := time.Date(2026, 11, p.day, 9, 0, 0, 0, cst)
		clk.Set(at)
		ids := []string{live.report(p.key, p.category, p.grid)}
		live.waitStatus(ids[0], whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED, true)
		for _, h := range live.hotSpots() { // a proactive ticket lives the same hours as the report that raised it
			if !handled[h.GetId()] {
				handled[h.GetId()] = true
				eventually.True(t, "the proactive ticket", func() bool { return live.hotSpots()[0].GetProactiveTicketId() != "" })
				id := live.hotSpots()[0].GetProactiveTicketId()
				live.waitStatus(id, whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED, true)
				ids = append(ids, id)
			}
		}
		for _, id := range ids {
			live.live(clk, at, id, p)
			file = append(file, live.export(id))
		}
	}
	if len(handled) != 1 {
		t.Fatalf("%d hot spots in the live month, want the planted one", len(handled))
	}

	imported := scenario{t: t, r: stacktest.Start(t), ctx: context.Background()}
	resp := imported.importTickets(file, false, false)
	if resp.GetImported() != int64(len(file)) || resp.GetBad() != 0 {
		t.Fatalf("import of %d tickets: %v", len(file), resp)
	}
	eventually.Seen(t, "the imported month projected", func() (bool, string) {
		got, want := imported.monthModels(), live.monthModels()
		return got == want, "imported:\n" + got + "\nlive:\n" + want
	})
	spots := imported.hotSpots()
	if len(spots) != 1 || spots[0].GetProactiveTicketId() != "" {
		t.Fatalf("imported hot spots %v: want the planted one, recorded without a proactive ticket", spots)
	}
	n := len(file)
	list, err := imported.monitor().Intake.ListTickets(imported.ctx, &whistlev1.ListTicketsRequest{PageSize: 100})
	imported.do("list tickets", err)
	if len(list.GetTickets()) != n {
		t.Fatalf("%d tickets after the import, want %d (no proactive ticket raised now)", len(list.GetTickets()), n)
	}
	again := imported.importTickets(file, false, false)
	if again.GetImported() != 0 || again.GetAlreadyImported() != int64(n) {
		t.Fatalf("the same file again: %v, want all %d already imported", again, n)
	}
	if got, want := imported.monthModels(), live.monthModels(); got != want {
		t.Fatalf("figures changed by importing the file again:\n%s\nwant\n%s", got, want)
	}
}

// live moves one dispatched ticket through its planned day on the fake clock.
func (s scenario) live(clk *clock.Fake, at time.Time, id string, p planned) {
	s.t.Helper()
	lead := s.state(id).GetLeadDepartmentId()
	who, handler := &whistlev1.Actor{Id: "h", OrgUnitId: lead}, s.as(auth.RoleDepartmentHandler, lead)
	grid := s.ticket(id).GetLocation().GetGridId()
	if p.withdraw {
		clk.Set(at.Add(10 * time.Minute))
		st, err := s.client(auth.RoleReporter, grid).Withdraw(s.ctx, id, "fixed by the residents", &whistlev1.Actor{Id: "w", OrgUnitId: grid})
		s.do("withdraw", err)
		if st != whistlev1.TicketStatus_TICKET_STATUS_CANCELLED {
			s.t.Fatalf("withdrawn ticket is %s", st)
		}
		eventually.True(s.t, id+" cancelled", func() bool { return s.state(id).GetStatus() == whistlev1.TicketStatus_TICKET_STATUS_CANCELLED })
		return
	}
	clk.Set(at.Add(10 * time.Minute))
	_, err := handler.Response.Accept(s.ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: who})
	s.do("accept", err)
	for _, a := range s.item(id).GetAssists() {
		_, err := s.as(auth.RoleDepartmentHandler, a.GetDepartmentId()).Response.ReportAssist(s.ctx, &whistlev1.ReportAssistRequest{
			TicketId: id, Note: "helped", Actor: &whistlev1.Actor{Id: "a", OrgUnitId: a.GetDepartmentId()}})
		s.do("report assist", err)
	}
	community := strings.Join(strings.Split(grid, "-")[:3], "-") // the sample catalog's grids lie in <district>-<street>-<community>
	verdicts := []whistlev1.Verdict{whistlev1.Verdict_VERDICT_SATISFIED}
	if p.rework {
		verdicts = []whistlev1.Verdict{whistlev1.Verdict_VERDICT_UNSATISFIED, whistlev1.Verdict_VERDICT_SATISFIED}
	}
	for round, v := range verdicts {
		clk.Set(at.Add(time.Duration(40+40*round) * time.Minute))
		_, err = handler.Response.Resolve(s.ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: who, Result: "done"})
		s.do("resolve", err)
		judge := s.as(auth.RoleCommunityOfficer, community)
		eventually.True(s.t, "evaluation to open", func() bool {
			e, err := judge.Evaluation.GetEvaluation(s.ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
			return err == nil && e.GetEvaluation().GetState() == whistlev1.EvaluationState_EVALUATION_STATE_OPEN &&
				e.GetEvaluation().GetRound() == int32(round+1)
		})
		clk.Set(at.Add(time.Duration(60+40*round) * time.Minute))
		_, err = judge.Evaluation.Evaluate(s.ctx, &whistlev1.EvaluateRequest{TicketId: id, Verdict: v,
			ReasonCodes: reasons(v), Evaluator: &whistlev1.Actor{Id: "e", OrgUnitId: community}})
		s.do("evaluate", err)
		want := whistlev1.TicketStatus_TICKET_STATUS_CLOSED
		if v == whistlev1.Verdict_VERDICT_UNSATISFIED {
			want = whistlev1.TicketStatus_TICKET_STATUS_REOPENED
			s.waitInbox(id, lead, want)
		}
		eventually.True(s.t, fmt.Sprintf("%s %s", id, want), func() bool { return s.state(id).GetStatus() == want })
	}
}

func reasons(v whistlev1.Verdict) []string {
	if v == whistlev1.Verdict_VERDICT_UNSATISFIED {
		return []string{"not_fixed"}
	}
	return nil
}

func (s scenario) ticket(id string) *whistlev1.Ticket {
	s.t.Helper()
	resp, err := s.r.As(auth.RoleAdmin, s.r.City).Intake.GetTicket(s.ctx, &whistlev1.GetTicketRequest{Ticket: id})
	s.do("get ticket", err)
	return resp.GetTicket()
}

// export writes a ticket's life as it happened live in the import format:
// the report, then each step at the time monitoring recorded it, with the
// deadlines dispatch set.
func (s scenario) export(id string) *whistlev1.ImportedTicket {
	s.t.Helper()
	tk := s.ticket(id)
	tl, err := s.monitor().Monitoring.GetTimeline(s.ctx, &whistlev1.GetTimelineRequest{TicketId: id})
	s.do("timeline", err)
	a, err := s.monitor().Dispatch.GetAssignment(s.ctx, &whistlev1.GetAssignmentRequest{TicketId: id})
	s.do("assignment", err)
	out := &whistlev1.ImportedTicket{ExternalId: "live-" + tk.GetNumber(), Kind: tk.GetKind(), Source: tk.GetSource(),
		Category: tk.GetCategory(), Description: tk.GetDescription(), Location: tk.GetLocation(), Reporter: tk.GetReporter(),
		ReportedAt: tk.GetReportedAt()}
	lead := tl.GetState().GetLeadDepartmentId()
	for _, e := range tl.GetEntries() {
		step := &whistlev1.ImportedStep{At: e.GetOccurredAt(), Actor: e.GetActor()}
		switch e.GetEventType() {
		case "dispatched":
			step.Action, step.DepartmentId = whistlev1.ImportedAction_IMPORTED_ACTION_DISPATCHED, lead
			step.AcceptDue, step.ResolveDue = a.GetAssignment().GetAcceptDue(), a.GetAssignment().GetResolveDue()
		case "accepted":
			step.Action = whistlev1.ImportedAction_IMPORTED_ACTION_ACCEPTED
		case "resolved":
			step.Action, step.Note = whistlev1.ImportedAction_IMPORTED_ACTION_RESOLVED, "done"
		case "evaluated":
			step.Action, step.EvaluationSource = whistlev1.ImportedAction_IMPORTED_ACTION_EVALUATED, whistlev1.EvaluationSource_EVALUATION_SOURCE_COMMUNITY
			step.Verdict = whistlev1.Verdict_VERDICT_SATISFIED
			if strings.HasSuffix(e.GetSummary(), ": unsatisfied") {
				step.Verdict = whistlev1.Verdict_VERDICT_UNSATISFIED
			}
		case "cancelled":
			step.Action, step.Withdrawn, step.Note = whistlev1.ImportedAction_IMPORTED_ACTION_CANCELLED, true, "fixed by the residents"
		default: // reported, and what follows from a step (closed, reopened) or changes no figure
			continue
		}
		out.History = append(out.History, step)
	}
	return out
}

// importTickets sends tickets to ImportTickets as the city's administrator, in batches of 5.
func (s scenario) importTickets(ts []*whistlev1.ImportedTicket, skipBad, dryRun bool) *whistlev1.ImportTicketsResponse {
	s.t.Helper()
	resp, err := s.importErr(ts, skipBad, dryRun)
	s.do("import", err)
	return resp
}

func (s scenario) importErr(ts []*whistlev1.ImportedTicket, skipBad, dryRun bool) (*whistlev1.ImportTicketsResponse, error) {
	stream, err := s.r.As(auth.RoleAdmin, s.r.City).Intake.ImportTickets(s.ctx)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(ts); i += 5 {
		if err := stream.Send(&whistlev1.ImportTicketsRequest{Tickets: ts[i:min(i+5, len(ts))], SkipBad: skipBad, DryRun: dryRun}); err != nil {
			break
		}
	}
	return stream.CloseAndRecv()
}

// monthModels prints November's figures as monitoring shows them: counts,
// scorecards of a unit of every level, rankings and hot spots (without ids,
// which differ between stacks).
func (s scenario) monthModels() string {
	s.t.Helper()
	var b strings.Builder
	show := func(m fmt.Stringer, err error) {
		if err != nil { // nothing counted yet, while the import is being projected
			fmt.Fprintln(&b, status.Code(err), status.Convert(err).Message())
			return
		}
		fmt.Fprintln(&b, m)
	}
	show(s.monitor().Monitoring.GetCounts(s.ctx, &whistlev1.GetCountsRequest{}))
	for _, unit := range []string{"hh", "xc", "xc-hd", "xc-hd-dj", "xc-hd-wy", "xc-xh", "xc-xh-jy", "xc-urban", "xc-water"} {
		show(s.monitor().Monitoring.GetScorecard(s.ctx, &whistlev1.GetScorecardRequest{OrgUnitId: unit, Period: november}))
	}
	for _, level := range []whistlev1.RankingLevel{whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY, whistlev1.RankingLevel_RANKING_LEVEL_STREET,
		whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT} {
		for _, figure := range []string{"response_rate", "closing_rate", "satisfaction_rate", "rework_rate"} {
			show(s.monitor().Monitoring.GetRankings(s.ctx, &whistlev1.GetRankingsRequest{Level: level, Figure: figure, Period: november}))
		}
	}
	for _, h := range s.hotSpots() {
		fmt.Fprintln(&b, h.GetRule(), h.GetOrgUnitId(), h.GetCategory(), len(h.GetTicketIds()), h.GetDetectedAt().AsTime())
	}
	return b.String()
}

// TestImportRefusesBadTicketsUnlessAskedToSkipThem sends a file with good
// and bad tickets: without skip_bad nothing is imported and every bad one is
// named (line, field, reason); a dry run names them and writes nothing;
// with skip_bad the good ones come in; a ticket sent again under the same
// external id with other content is refused.
func TestImportRefusesBadTicketsUnlessAskedToSkipThem(t *testing.T) {
	s := scenario{t: t, r: stacktest.Start(t), ctx: context.Background()}
	at := func(d time.Duration) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2026, 11, 2, 9, 0, 0, 0, cst).Add(d))
	}
	good := func(ext string) *whistlev1.ImportedTicket {
		return &whistlev1.ImportedTicket{ExternalId: ext, Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source: whistlev1.Source_SOURCE_HOTLINE_12345, Category: "road_damage", Description: "a pothole",
			Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"}, Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"},
			ReportedAt: at(0), History: []*whistlev1.ImportedStep{
				{Action: whistlev1.ImportedAction_IMPORTED_ACTION_DISPATCHED, At: at(time.Minute), DepartmentId: "xc-urban",
					AcceptDue: at(2 * time.Hour), ResolveDue: at(72 * time.Hour)},
				{Action: whistlev1.ImportedAction_IMPORTED_ACTION_ACCEPTED, At: at(time.Hour)},
				{Action: whistlev1.ImportedAction_IMPORTED_ACTION_RESOLVED, At: at(5 * time.Hour), Note: "filled"},
				{Action: whistlev1.ImportedAction_IMPORTED_ACTION_EVALUATED, At: at(6 * time.Hour), Verdict: whistlev1.Verdict_VERDICT_SATISFIED},
			}}
	}
	bad := func(ext string, spoil func(*whistlev1.ImportedTicket)) *whistlev1.ImportedTicket {
		tk := good(ext)
		spoil(tk)
		return tk
	}
	file := []*whistlev1.ImportedTicket{
		good("g1"),
		bad("b-grid", func(tk *whistlev1.ImportedTicket) { tk.Location.GridId = "xc-nowhere" }),
		bad("b-open", func(tk *whistlev1.ImportedTicket) { tk.History = tk.History[:2] }),
		bad("b-order", func(tk *whistlev1.ImportedTicket) { tk.History[1].At = at(-time.Hour) }),
		bad("b-dept", func(tk *whistlev1.ImportedTicket) { tk.History[0].DepartmentId = "xc-hd-dj" }), // a street
		bad("b-future", func(tk *whistlev1.ImportedTicket) { tk.History[3].At = timestamppb.New(time.Now().Add(time.Hour)) }),
		bad("b-due", func(tk *whistlev1.ImportedTicket) { tk.History[0].AcceptDue = nil }),
		bad("b-move", func(tk *whistlev1.ImportedTicket) {
			tk.History[2].Action = whistlev1.ImportedAction_IMPORTED_ACTION_ACCEPTED
		}),
		good("g2"),
	}
	wantFields := []string{"location.grid_id", "history", "history[1].at", "history[0].department_id", "history[3].at",
		"history[0].accept_due", "history[2].action"}

	_, err := s.importErr(file, false, false)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("an import with bad tickets: %v, want InvalidArgument", err)
	}
	named := violations(err)
	if len(named) != len(wantFields) {
		t.Fatalf("refusal names %d problems %v, want %d", len(named), named, len(wantFields))
	}
	for i, f := range wantFields {
		if !strings.Contains(named[i], fmt.Sprintf("line %d ", i+2)) || !strings.Contains(named[i], f) {
			t.Errorf("problem %d is %q, want line %d and field %s", i, named[i], i+2, f)
		}
	}
	s.wantTickets(0)

	dry := s.importTickets(file, false, true)
	if !dry.GetDryRun() || dry.GetImported() != 2 || dry.GetBad() != int64(len(wantFields)) || len(dry.GetProblems()) != len(wantFields) {
		t.Fatalf("dry run: %v", dry)
	}
	s.wantTickets(0)

	skipped := s.importTickets(file, true, false)
	if skipped.GetImported() != 2 || skipped.GetBad() != int64(len(wantFields)) {
		t.Fatalf("import with skip_bad: %v", skipped)
	}
	s.wantTickets(2)

	changed := good("g1")
	changed.Description = "another pothole"
	_, err = s.importErr([]*whistlev1.ImportedTicket{changed}, false, false)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "already imported with other content") {
		t.Fatalf("g1 again with other content: %v", err)
	}
	s.wantTickets(2)

	// Only the city's administrator imports.
	stream, err := s.r.As(auth.RoleMonitor, s.r.City).Intake.ImportTickets(s.ctx)
	if err == nil {
		_ = stream.Send(&whistlev1.ImportTicketsRequest{Tickets: []*whistlev1.ImportedTicket{good("g3")}})
		_, err = stream.CloseAndRecv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a monitor's import: %v, want PermissionDenied", err)
	}
	s.wantTickets(2)
}

// wantTickets checks how many tickets intake holds.
func (s scenario) wantTickets(n int) {
	s.t.Helper()
	list, err := s.r.As(auth.RoleAdmin, s.r.City).Intake.ListTickets(s.ctx, &whistlev1.ListTicketsRequest{PageSize: 100})
	s.do("list tickets", err)
	if len(list.GetTickets()) != n {
		s.t.Fatalf("intake holds %d tickets, want %d", len(list.GetTickets()), n)
	}
}

// violations lists the field violations of a refusal's BadRequest, as "field: description".
func violations(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField()+": "+v.GetDescription())
			}
		}
	}
	return out
}
