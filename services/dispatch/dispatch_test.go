package dispatch_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/services/dispatch"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var cst = time.FixedZone("CST", 8*3600)

type fixture struct {
	deps   platform.Deps
	clock  *clock.Fake
	svc    *dispatch.Service
	p      *inbox.Processor
	client whistlev1.DispatchServiceClient
}

func newFixture(t *testing.T, cfg dispatch.Config) *fixture {
	t.Helper()
	clk := clock.NewFake(now)
	deps := platformtest.Deps(t, dispatch.Name, dispatch.Migrations(), nil, clk)
	svc, err := dispatch.New(context.Background(), deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn := grpctest.Serve(t, grpcserver.Options{Log: deps.Log}, svc.Register)
	return &fixture{deps: deps, clock: clk, svc: svc, p: &inbox.Processor{DB: deps.DB, Consumer: "test", Apply: dispatch.Apply(svc)},
		client: whistlev1.NewDispatchServiceClient(conn)}
}

func (f *fixture) deliver(t *testing.T, ev *whistlev1.Event) string {
	t.Helper()
	outcome, err := f.p.Process(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return outcome
}

func (f *fixture) events(t *testing.T) []*whistlev1.Event { return platformtest.Outbox(t, f.deps.DB) }

// last returns the types and versions of the last n events, e.g. "triaged@4".
func (f *fixture) last(t *testing.T, n int) string {
	t.Helper()
	evs := f.events(t)
	var out []string
	for _, ev := range evs[max(0, len(evs)-n):] {
		out = append(out, fmt.Sprintf("%s@%d", events.TypeOf(ev), ev.GetTicketVersion()))
	}
	return strings.Join(out, " ")
}

func (f *fixture) assignment(t *testing.T, id string) *whistlev1.Assignment {
	t.Helper()
	resp, err := f.client.GetAssignment(context.Background(), &whistlev1.GetAssignmentRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetAssignment()
}

func reported(id, category, grid string) *whistlev1.Event {
	return events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-20261126-00001", Version: 1, OccurredAt: now,
		Producer: "intake"}, &whistlev1.TicketReported{Ticket: &whistlev1.Ticket{
		Id: id, Category: category, Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		Location: &whistlev1.Location{GridId: grid}, Description: "d"}})
}

func moved(id string, version int64, body proto.Message) *whistlev1.Event {
	return events.MustNew(events.Meta{TicketID: id, Version: version, OccurredAt: now, Producer: "response"}, body)
}

func returned(id string, version int64, dept string) *whistlev1.Event {
	return moved(id, version, &whistlev1.TicketReturned{DepartmentId: dept,
		ReasonCode: whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION, Note: "not ours"})
}

func officer(unit string) *whistlev1.Actor {
	return &whistlev1.Actor{Id: "officer-" + unit, OrgUnitId: unit}
}

func TestReportedTicketIsDispatchedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	id := ids.New()
	ev := reported(id, "water_leak", "xc-hd-dj-g02")
	if got := f.deliver(t, ev); got != inbox.OutcomeApplied {
		t.Fatalf("first delivery: %s", got)
	}
	again := proto.Clone(ev).(*whistlev1.Event)
	again.EventId = ids.New() // the same report announced again
	if got := f.deliver(t, again); got != inbox.OutcomeStale {
		t.Fatalf("second announcement: %s, want stale", got)
	}
	out := f.events(t)
	if len(out) != 1 || events.TypeOf(out[0]) != events.Dispatched {
		t.Fatalf("outbox %v, want one dispatched event", out)
	}
	d := out[0].GetDispatched()
	if out[0].GetTicketVersion() != 2 || d.GetLeadDepartmentId() != "xc-water" || d.GetTicket().GetId() != id ||
		d.GetCatalogVersion() != "2026.11-sample" || !d.GetAcceptDue().AsTime().After(now) {
		t.Fatalf("dispatched event %v", out[0])
	}
	a := f.assignment(t, id)
	if a.GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED || a.GetOwnerDepartmentId() != "xc-water" {
		t.Fatalf("assignment %v", a)
	}
}

func TestFollowCopesWithOvertakingEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	id := ids.New()
	f.deliver(t, reported(id, "road_damage", "xc-hd-dj-g01"))
	if got := f.deliver(t, moved(id, 4, &whistlev1.TicketResolved{DepartmentId: "xc-urban"})); got != inbox.OutcomeApplied {
		t.Fatalf("resolved: %s", got)
	}
	if got := f.deliver(t, moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"})); got != inbox.OutcomeStale {
		t.Fatalf("late accepted: %s, want stale", got)
	}
	if a := f.assignment(t, id); a.GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_RESOLVED || a.GetVersion() != 4 {
		t.Fatalf("assignment %v, want RESOLVED v4", a)
	}
	if got := f.deliver(t, moved(ids.New(), 3, &whistlev1.TicketAccepted{})); got != inbox.OutcomeLater {
		t.Fatalf("unknown ticket: %s, want later", got)
	}
}

// An extension asked for just after the acceptance can overtake the
// accepted event (they travel on different consumers): it waits for it
// instead of being dropped, and then is recorded for the street to decide.
func TestExtensionRequestWaitsForTheAcceptance(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	id := ids.New()
	f.deliver(t, reported(id, "road_damage", "xc-hd-dj-g01"))
	due := timestamppb.New(now.Add(30 * 24 * time.Hour))
	ask := moved(id, 3, &whistlev1.TicketExtensionRequested{DepartmentId: "xc-urban", RequestedResolveDue: due, Reason: "parts"})
	if got := f.deliver(t, ask); got != inbox.OutcomeLater {
		t.Fatalf("an extension request before its acceptance: %s, want later", got)
	}
	f.deliver(t, moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}))
	if got := f.deliver(t, ask); got != inbox.OutcomeApplied {
		t.Fatalf("the extension request after the acceptance: %s", got)
	}
	if a := f.assignment(t, id); !a.GetExtensionRequestedDue().AsTime().Equal(due.AsTime()) {
		t.Fatalf("assignment %v, want the extension asked for recorded", a)
	}
}

// A return goes to the matter's alternative department; a second return,
// with no alternative left, to arbitration at the street, whose decision binds.
func TestReturnReroutesThenArbitrationBinds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	ctx := context.Background()
	id := ids.New()
	f.deliver(t, reported(id, "drain_blocked", "xc-hd-dj-g01")) // lead water, alternative urban-management
	f.deliver(t, returned(id, 3, "xc-water"))
	if got := f.last(t, 1); got != "dispatched@4" || f.assignment(t, id).GetLeadDepartmentId() != "xc-urban" {
		t.Fatalf("after the first return: %s, lead %s", got, f.assignment(t, id).GetLeadDepartmentId())
	}
	f.deliver(t, returned(id, 5, "xc-urban"))
	a := f.assignment(t, id)
	if got := f.last(t, 1); got != "triaged@6" || !a.GetArbitration() || a.GetTriageOrgUnitId() != "xc-hd" || a.GetReturnCount() != 2 {
		t.Fatalf("after the second return: %s, %v", got, a)
	}
	if a.GetOwnerDepartmentId() != "xc-water" {
		t.Fatalf("owner %q: the first department stays responsible until another accepts", a.GetOwnerDepartmentId())
	}
	// A manual dispatch is refused: the ticket needs a binding decision.
	_, err := f.client.Dispatch(ctx, &whistlev1.DispatchRequest{TicketId: id, LeadDepartmentId: "xc-water",
		AcceptWithin: durationpb.New(time.Hour), ResolveWithin: durationpb.New(time.Hour), Actor: officer("xc-hd")})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("dispatch by hand of a ticket in arbitration: %v", err)
	}
	// Another street may not decide; the district above may.
	_, err = f.client.Arbitrate(ctx, &whistlev1.ArbitrateRequest{TicketId: id, DepartmentId: "xc-urban", Note: "n", Actor: officer("xc-xh")})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "waits at xc-hd") {
		t.Fatalf("arbitration by another street: %v", err)
	}
	_, err = f.client.Arbitrate(ctx, &whistlev1.ArbitrateRequest{TicketId: id, DepartmentId: "yq-urban", Note: "n", Actor: officer("xc")})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("arbitration to a department of another district: %v", err)
	}
	resp, err := f.client.Arbitrate(ctx, &whistlev1.ArbitrateRequest{TicketId: id, DepartmentId: "xc-urban",
		Note: "drains in the street are urban management's", Actor: officer("xc")})
	if err != nil {
		t.Fatal(err)
	}
	if a := resp.GetAssignment(); !a.GetBinding() || a.GetLeadDepartmentId() != "xc-urban" || a.GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED {
		t.Fatalf("arbitrated assignment %v", a)
	}
	ev := f.events(t)[len(f.events(t))-1]
	if ev.GetArbitrated().GetDepartmentId() != "xc-urban" || ev.GetArbitrated().GetDecidedByOrgUnitId() != "xc-hd" ||
		ev.GetTicketVersion() != 7 || ev.GetActor().GetOrgUnitId() != "xc" {
		t.Fatalf("arbitrated event %v", ev)
	}
	// The department that accepts becomes the owner.
	f.deliver(t, moved(id, 8, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}))
	if o := f.assignment(t, id).GetOwnerDepartmentId(); o != "xc-urban" {
		t.Fatalf("owner after accept %q", o)
	}
}

func TestTooManyReturnsGoStraightToArbitration(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{MaxReturns: -1}) // no return may be re-routed
	id := ids.New()
	f.deliver(t, reported(id, "drain_blocked", "xc-hd-dj-g01"))
	f.deliver(t, returned(id, 3, "xc-water"))
	if a := f.assignment(t, id); !a.GetArbitration() {
		t.Fatalf("assignment %v, want arbitration despite an alternative", a)
	}
}

func TestOffCatalogTicketDispatchedByHand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	ctx := context.Background()
	id, other := ids.New(), ids.New()
	f.deliver(t, reported(id, "ufo_sighting", "xc-hd-dj-g02"))
	f.deliver(t, reported(other, "ufo_sighting", "xc-hd-dj-g01"))
	for _, unit := range []string{"xc-hd", "xc", "hh"} {
		resp, err := f.client.ListTriage(ctx, &whistlev1.ListTriageRequest{OrgUnitId: unit})
		if err != nil || len(resp.GetAssignments()) != 2 {
			t.Fatalf("triage at %s: %v, %v", unit, resp, err)
		}
	}
	if resp, _ := f.client.ListTriage(ctx, &whistlev1.ListTriageRequest{OrgUnitId: "yq"}); len(resp.GetAssignments()) != 0 {
		t.Fatalf("another district sees %d tickets", len(resp.GetAssignments()))
	}
	req := func(unit, dept string) *whistlev1.DispatchRequest {
		return &whistlev1.DispatchRequest{TicketId: id, LeadDepartmentId: dept, AcceptWithin: durationpb.New(time.Hour),
			ResolveWithin: durationpb.New(14 * time.Hour), Note: "lights in the sky: environment checks", Actor: officer(unit)}
	}
	tests := []struct {
		name string
		req  *whistlev1.DispatchRequest
		code codes.Code
	}{
		{"officer of another street", req("xc-xh", "xc-env"), codes.PermissionDenied},
		{"department of another district", req("xc-hd", "yq-env"), codes.PermissionDenied},
		{"unknown department", req("xc-hd", "xc-magic"), codes.InvalidArgument},
		{"resolve before accept", &whistlev1.DispatchRequest{TicketId: id, LeadDepartmentId: "xc-env", AcceptWithin: durationpb.New(2 * time.Hour),
			ResolveWithin: durationpb.New(time.Hour), Actor: officer("xc-hd")}, codes.InvalidArgument},
		{"no windows", &whistlev1.DispatchRequest{TicketId: id, LeadDepartmentId: "xc-env", Actor: officer("xc-hd")}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		if _, err := f.client.Dispatch(ctx, tt.req); status.Code(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if n := len(f.events(t)); n != 2 {
		t.Fatalf("refused dispatches wrote events (%d)", n)
	}
	resp, err := f.client.Dispatch(ctx, req("xc-hd", "xc-env"))
	if err != nil {
		t.Fatal(err)
	}
	a := resp.GetAssignment()
	if a.GetLeadDepartmentId() != "xc-env" || a.GetOwnerDepartmentId() != "xc-env" ||
		!a.GetResolveDue().AsTime().Equal(time.Date(2026, 11, 30, 10, 0, 0, 0, cst)) { // 14 working hours: Thu 6 h, Fri 7 h, Mon 1 h
		t.Fatalf("dispatched by hand: %v", a)
	}
	if ev := f.events(t)[2]; !ev.GetDispatched().GetByHand() || ev.GetTicketVersion() != 3 || ev.GetActor().GetOrgUnitId() != "xc-hd" {
		t.Fatalf("event %v", ev)
	}
	if _, err := f.client.RejectTriage(ctx, &whistlev1.RejectTriageRequest{TicketId: other, Reason: "not a public matter", Actor: officer("xc-hd")}); err != nil {
		t.Fatal(err)
	}
	if got := f.last(t, 1); got != "cancelled@3" {
		t.Fatalf("reject: %s", got)
	}
	if _, err := f.client.RejectTriage(ctx, &whistlev1.RejectTriageRequest{TicketId: id, Reason: "x", Actor: officer("xc-hd")}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("rejecting a dispatched ticket: %v", err)
	}
}

// escalations returns the levels escalated so far for a ticket.
func (f *fixture) escalations(t *testing.T, id string) string {
	var out []string
	for _, ev := range f.events(t) {
		if e := ev.GetEscalated(); e != nil && ev.GetTicketId() == id {
			out = append(out, fmt.Sprintf("%s:%d@%s", e.GetStage(), e.GetLevel(), e.GetNotifiedOrgUnitId()))
		}
	}
	return strings.Join(out, " ")
}

func (f *fixture) fire(t *testing.T) {
	t.Helper()
	if _, err := f.svc.FireDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A week of deadlines, in milliseconds: a ticket not accepted is escalated to
// the street at its deadline and to the district a working window later;
// once accepted, missing the resolve deadline escalates it to the city.
func TestOverdueTicketsEscalate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	id := ids.New()
	f.deliver(t, reported(id, "road_damage", "xc-hd-dj-g01")) // Thu 10:00; accept within 2h
	f.clock.Advance(119 * time.Minute)
	f.fire(t)
	if got := f.escalations(t, id); got != "" {
		t.Fatalf("escalated before the deadline: %s", got)
	}
	f.clock.Set(time.Date(2026, 11, 26, 12, 0, 0, 0, cst))
	f.fire(t)
	f.fire(t) // a second pass, or a second replica, changes nothing
	if got := f.escalations(t, id); got != "accept:1@xc-hd" {
		t.Fatalf("at the accept deadline: %q", got)
	}
	// Another 2 working hours: 12:00 → 15:30, across lunch.
	f.clock.Set(time.Date(2026, 11, 26, 15, 29, 0, 0, cst))
	f.fire(t)
	if got := f.escalations(t, id); got != "accept:1@xc-hd" {
		t.Fatalf("lunch counted as working time: %q", got)
	}
	f.clock.Set(time.Date(2026, 11, 26, 15, 30, 0, 0, cst))
	f.fire(t)
	if got := f.escalations(t, id); got != "accept:1@xc-hd accept:2@xc" {
		t.Fatalf("a window later: %q", got)
	}
	f.deliver(t, moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}))
	if a := f.assignment(t, id); a.GetEscalationLevel() != 2 {
		t.Fatalf("level %d after accept", a.GetEscalationLevel())
	}
	f.clock.Advance(7 * 24 * time.Hour) // a week later, the 3-day resolve window long gone
	f.fire(t)
	if got := f.escalations(t, id); got != "accept:1@xc-hd accept:2@xc resolve:3@hh" {
		t.Fatalf("after a week: %q", got)
	}
	f.clock.Advance(30 * 24 * time.Hour)
	f.fire(t)
	if n := strings.Count(f.escalations(t, id), ":"); n != 3 {
		t.Fatalf("escalated beyond the city: %s", f.escalations(t, id))
	}
}

func TestReworkPastTheLimitEscalates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	id := ids.New()
	f.deliver(t, reported(id, "road_damage", "xc-hd-dj-g01"))
	f.deliver(t, moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}))
	f.deliver(t, moved(id, 4, &whistlev1.TicketResolved{DepartmentId: "xc-urban"}))
	f.deliver(t, moved(id, 5, &whistlev1.TicketReopened{ReworkCount: 1}))
	f.deliver(t, moved(id, 6, &whistlev1.TicketResolved{DepartmentId: "xc-urban"}))
	f.deliver(t, moved(id, 7, &whistlev1.TicketReopened{ReworkCount: 2, Escalate: true}))
	if got := f.escalations(t, id); got != "rework:1@xc-hd" {
		t.Fatalf("escalations %q", got)
	}
}

func TestPausedClockDoesNotRunAndMovesTheDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	id := ids.New()
	f.deliver(t, reported(id, "street_light_out", "xc-hd-dj-g01"))
	f.deliver(t, moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}))
	due := f.assignment(t, id).GetResolveDue().AsTime()
	f.deliver(t, moved(id, 3, &whistlev1.TicketProgressed{DepartmentId: "xc-urban", Note: "waiting for the resident",
		Clock: whistlev1.ClockChange_CLOCK_CHANGE_PAUSE}))
	if a := f.assignment(t, id); !a.GetPaused() {
		t.Fatalf("not paused: %v", a)
	}
	f.clock.Set(due.Add(48 * time.Hour)) // far past the deadline while paused
	f.fire(t)
	if got := f.escalations(t, id); got != "" {
		t.Fatalf("escalated while paused: %s", got)
	}
	f.deliver(t, moved(id, 3, &whistlev1.TicketProgressed{DepartmentId: "xc-urban", Note: "resident back",
		Clock: whistlev1.ClockChange_CLOCK_CHANGE_RESUME}))
	a := f.assignment(t, id)
	cal := f.svc.Catalog().Calendar
	left := cal.Between(now, due) // paused at `now`
	if want := cal.Add(f.clock.Now(), left); a.GetPaused() || !a.GetResolveDue().AsTime().Equal(want) {
		t.Fatalf("after resume: paused=%v due %s, want %s", a.GetPaused(), a.GetResolveDue().AsTime(), want)
	}
	if got := f.last(t, 2); got != "rescheduled@3 rescheduled@3" {
		t.Fatalf("events %s", got)
	}
}

func TestExtensionDecisions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	ctx := context.Background()
	id := ids.New()
	f.deliver(t, reported(id, "road_damage", "xc-hd-dj-g01"))
	_, err := f.client.DecideExtension(ctx, &whistlev1.DecideExtensionRequest{TicketId: id, Granted: true, Actor: officer("xc-hd")})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("deciding with nothing pending: %v", err)
	}
	f.deliver(t, moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}))
	asked := f.assignment(t, id).GetResolveDue().AsTime().Add(72 * time.Hour)
	f.deliver(t, moved(id, 3, &whistlev1.TicketExtensionRequested{DepartmentId: "xc-urban",
		RequestedResolveDue: timestamppb.New(asked), Reason: "asphalt plant closed"}))
	_, err = f.client.DecideExtension(ctx, &whistlev1.DecideExtensionRequest{TicketId: id, Granted: true, Actor: officer("yq-ht")})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another street decides: %v", err)
	}
	resp, err := f.client.DecideExtension(ctx, &whistlev1.DecideExtensionRequest{TicketId: id, Granted: true, Note: "ok", Actor: officer("xc-hd")})
	if err != nil {
		t.Fatal(err)
	}
	if a := resp.GetAssignment(); !a.GetResolveDue().AsTime().Equal(asked) || a.GetExtensionRequestedDue() != nil {
		t.Fatalf("after the grant: %v", a)
	}
	if ev := f.events(t)[len(f.events(t))-1]; !ev.GetExtensionDecided().GetGranted() || !ev.GetExtensionDecided().GetResolveDue().AsTime().Equal(asked) {
		t.Fatalf("decision event %v", ev)
	}
}

// Two replicas firing the same due deadlines at once escalate each ticket once.
func TestSchedulerReplicasFireEachStepOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	replica, err := dispatch.New(context.Background(), f.deps, dispatch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := 0; i < n; i++ {
		f.deliver(t, reported(ids.New(), "road_damage", "xc-hd-dj-g01"))
	}
	f.clock.Set(time.Date(2026, 11, 26, 12, 0, 0, 0, cst))
	var wg sync.WaitGroup
	for _, s := range []*dispatch.Service{f.svc, replica, f.svc, replica} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.FireDue(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, ev := range f.events(t) {
		if ev.GetEscalated() != nil {
			seen[ev.GetTicketId()]++
		}
	}
	if len(seen) != n {
		t.Fatalf("%d tickets escalated, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("ticket %s escalated %d times", id, c)
		}
	}
}

func TestExplainRouting(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	ctx := context.Background()
	id := ids.New()
	f.deliver(t, reported(id, "river_pollution", "xc-hd-dj-g01"))
	resp, err := f.client.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	steps := strings.Join(resp.GetSteps(), "\n")
	for _, want := range []string{"grid xc-hd-dj-g01", "district xc", "matter river_pollution", "xc-env", "assisting water: xc-water", "working time"} {
		if !strings.Contains(steps, want) {
			t.Errorf("explanation lacks %q:\n%s", want, steps)
		}
	}
	if resp.GetLeadDepartmentId() != "xc-env" || resp.GetCatalogVersion() != "2026.11-sample" {
		t.Fatalf("explain %v", resp)
	}
	what, err := f.client.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{Category: "ufo_sighting", GridId: "yq-ht-dls-g01"})
	if err != nil || what.GetTriageOrgUnitId() != "yq-ht" {
		t.Fatalf("what-if: %v, %v", what, err)
	}
	if _, err := f.client.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("nothing to explain: %v", err)
	}
	if _, err := f.client.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{TicketId: ids.New()}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown ticket: %v", err)
	}
}

func TestStatusesStayInTheStateMachine(t *testing.T) {
	t.Parallel()
	for _, st := range ticket.Statuses() {
		if whistlev1.TicketStatus(st).String() == "" {
			t.Fatalf("status %s unknown to the API", st)
		}
	}
}
