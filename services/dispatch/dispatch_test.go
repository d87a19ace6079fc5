package dispatch_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/services/dispatch"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	deps platform.Deps
	svc  *dispatch.Service
	p    *inbox.Processor
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	deps := platformtest.Deps(t, dispatch.Name, dispatch.Migrations(), nil, clock.NewFake(now))
	svc, err := dispatch.New(deps, dispatch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{deps: deps, svc: svc, p: &inbox.Processor{DB: deps.DB, Consumer: "test", Apply: dispatch.Apply(svc)}}
}

func (f *fixture) deliver(t *testing.T, ev *whistlev1.Event) string {
	t.Helper()
	outcome, err := f.p.Process(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return outcome
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

func TestReportedTicketIsDispatchedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := ids.New()
	ev := reported(id, "water_leak", "xc-hd-dj-g02")
	if got := f.deliver(t, ev); got != inbox.OutcomeApplied {
		t.Fatalf("first delivery: %s", got)
	}
	copyEv := proto.Clone(ev).(*whistlev1.Event)
	copyEv.EventId = ids.New() // the same report announced again
	if got := f.deliver(t, copyEv); got != inbox.OutcomeStale {
		t.Fatalf("second announcement: %s, want stale", got)
	}
	out := platformtest.Outbox(t, f.deps.DB)
	if len(out) != 1 || events.TypeOf(out[0]) != events.Dispatched {
		t.Fatalf("outbox %v, want one dispatched event", out)
	}
	d := out[0]
	if d.GetTicketVersion() != 2 || d.GetDispatched().GetLeadDepartmentId() != "xc-water" ||
		d.GetDispatched().GetTicket().GetId() != id || d.GetDispatched().GetCatalogVersion() != "2026.11-sample" ||
		!d.GetDispatched().GetAcceptDue().AsTime().After(now) {
		t.Fatalf("dispatched event %v", d)
	}
	a, err := f.svc.GetAssignment(context.Background(), id)
	if err != nil || a.Status != ticket.Dispatched || a.Version != 2 || a.Lead != "xc-water" {
		t.Fatalf("assignment %+v, %v", a, err)
	}
}

func TestOffCatalogTicketIsTriaged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.deliver(t, reported(ids.New(), "ufo_sighting", "xc-hd-dj-g02"))
	out := platformtest.Outbox(t, f.deps.DB)
	if len(out) != 1 || out[0].GetTriaged().GetOrgUnitId() != "xc-hd" || out[0].GetTicketVersion() != 2 {
		t.Fatalf("outbox %v, want triaged at xc-hd", out)
	}
}

func TestFollowCopesWithOvertakingEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := ids.New()
	f.deliver(t, reported(id, "road_damage", "xc-hd-dj-g01"))
	// resolved (v4) overtakes accepted (v3): dispatch ends up RESOLVED at v4.
	if got := f.deliver(t, moved(id, 4, &whistlev1.TicketResolved{DepartmentId: "xc-urban"})); got != inbox.OutcomeApplied {
		t.Fatalf("resolved: %s", got)
	}
	if got := f.deliver(t, moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"})); got != inbox.OutcomeStale {
		t.Fatalf("late accepted: %s, want stale", got)
	}
	a, _ := f.svc.GetAssignment(context.Background(), id)
	if a.Status != ticket.Resolved || a.Version != 4 {
		t.Fatalf("assignment %s v%d, want RESOLVED v4", a.Status, a.Version)
	}
	// An event about a ticket dispatch never saw waits for its report.
	if got := f.deliver(t, moved(ids.New(), 3, &whistlev1.TicketAccepted{})); got != inbox.OutcomeLater {
		t.Fatalf("unknown ticket: %s, want later", got)
	}
}

func TestReturnedTicketWaitsInTriage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := ids.New()
	f.deliver(t, reported(id, "road_damage", "xc-hd-dj-g01"))
	f.deliver(t, moved(id, 3, &whistlev1.TicketReturned{DepartmentId: "xc-urban",
		ReasonCode: whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION, Note: "private road"}))
	out := platformtest.Outbox(t, f.deps.DB)
	last := out[len(out)-1]
	if len(out) != 2 || last.GetTicketVersion() != 4 || last.GetTriaged().GetOrgUnitId() != "xc-hd" {
		t.Fatalf("outbox %v, want triaged v4 at xc-hd", out)
	}
}
