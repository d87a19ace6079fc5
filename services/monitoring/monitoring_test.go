package monitoring_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/monitoring"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// life is one ticket's whole story: reopened once, then closed.
func life(id string, synthetic bool) []*whistlev1.Event {
	at := func(v int64) events.Meta {
		return events.Meta{TicketID: id, TicketNumber: "HH-20261126-00001", Version: v,
			OccurredAt: now.Add(time.Duration(v) * time.Minute), Producer: "test", Synthetic: synthetic}
	}
	return []*whistlev1.Event{
		events.MustNew(at(1), &whistlev1.TicketReported{Ticket: &whistlev1.Ticket{Id: id, Category: "road_damage",
			ReportedAt: timestamppb.New(now), Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01"}}}),
		events.MustNew(at(2), &whistlev1.TicketDispatched{LeadDepartmentId: "xc-urban"}),
		events.MustNew(at(3), &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}),
		events.MustNew(at(4), &whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "filled"}),
		events.MustNew(at(4), &whistlev1.TicketEvaluated{Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED, Round: 1}),
		events.MustNew(at(5), &whistlev1.TicketReopened{ReworkCount: 1, ReasonCodes: []string{"not_fixed"}}),
		events.MustNew(at(6), &whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "filled again"}),
		events.MustNew(at(6), &whistlev1.TicketEvaluated{Verdict: whistlev1.Verdict_VERDICT_SATISFIED, Round: 2}),
		events.MustNew(at(7), &whistlev1.TicketClosed{FinalVerdict: whistlev1.Verdict_VERDICT_SATISFIED}),
	}
}

// TestShuffledAndRepeatedEventsGiveOneOrderedTimeline delivers several
// tickets' events shuffled and twice each, retrying what must wait, as
// JetStream redelivery would.
func TestShuffledAndRepeatedEventsGiveOneOrderedTimeline(t *testing.T) {
	t.Parallel()
	deps := platformtest.Deps(t, monitoring.Name, monitoring.Migrations(), nil, clock.NewFake(now))
	svc, err := monitoring.New(deps, monitoring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &inbox.Processor{DB: deps.DB, Consumer: "test", Apply: monitoring.Apply(svc)}
	client := whistlev1.NewMonitoringServiceClient(grpctest.Serve(t, grpcserver.Options{Log: deps.Log}, svc.Register))

	var pending []*whistlev1.Event
	tickets := map[string][]*whistlev1.Event{}
	for i := 0; i < 5; i++ {
		id := ids.New()
		tickets[id] = life(id, i == 0)
		pending = append(pending, tickets[id]...)
		pending = append(pending, tickets[id]...) // every event delivered twice
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for rounds := 0; len(pending) > 0; rounds++ {
		if rounds > 1000 {
			t.Fatalf("%d events never applied", len(pending))
		}
		rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
		var later []*whistlev1.Event
		for _, ev := range pending {
			data, _ := proto.Marshal(ev)
			err := p.Handle(context.Background(), &bus.Message{Data: data, EventType: events.TypeOf(ev)})
			if err == bus.ErrLater {
				later = append(later, ev)
			} else if err != nil {
				t.Fatal(err)
			}
		}
		pending = later
	}
	for id, story := range tickets {
		resp, err := client.GetTimeline(context.Background(), &whistlev1.GetTimelineRequest{TicketId: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetEntries()) != len(story) {
			t.Fatalf("timeline has %d entries, want %d", len(resp.GetEntries()), len(story))
		}
		for i, e := range resp.GetEntries() {
			if e.GetEventId() != story[i].GetEventId() {
				t.Fatalf("entry %d is %s v%d, want %s v%d", i, e.GetEventType(), e.GetVersion(),
					events.TypeOf(story[i]), story[i].GetTicketVersion())
			}
		}
		st := resp.GetState()
		if st.GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_CLOSED || st.GetVersion() != 7 || st.GetReworkCount() != 1 ||
			st.GetLeadDepartmentId() != "xc-urban" || st.GetCategory() != "road_damage" {
			t.Fatalf("state %v", st)
		}
	}
	counts := func(synthetic bool) string {
		resp, err := client.GetCounts(context.Background(), &whistlev1.GetCountsRequest{IncludeSynthetic: synthetic})
		if err != nil {
			t.Fatal(err)
		}
		out := fmt.Sprint(resp.GetTotal())
		for _, c := range resp.GetCounts() {
			out += fmt.Sprintf(" %s=%d", c.GetStatus(), c.GetCount())
		}
		return out
	}
	if got := counts(false); got != "4 TICKET_STATUS_CLOSED=4" {
		t.Fatalf("counts without synthetic: %s", got)
	}
	if got := counts(true); got != "5 TICKET_STATUS_CLOSED=5" {
		t.Fatalf("counts with synthetic: %s", got)
	}
	if _, err := client.GetTimeline(context.Background(), &whistlev1.GetTimelineRequest{TicketId: ids.New()}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown ticket: %v", err)
	}
}
