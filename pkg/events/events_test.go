package events_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

func TestEveryTypeIsNamedAndClassified(t *testing.T) {
	t.Parallel()
	consts := []string{
		events.Reported, events.Merged, events.Cancelled, events.Triaged, events.Dispatched,
		events.Accepted, events.Progressed, events.Returned, events.Arbitrated,
		events.ExtensionRequested, events.ExtensionDecided, events.Escalated, events.Resolved,
		events.Evaluated, events.Reopened, events.Closed, events.Proactive, events.Rescheduled, events.OrgTree,
		events.EvaluationOpened, events.Imported, events.Repeated, events.CalledBack,
	}
	types := events.Types()
	if strings.Join(types, ",") != strings.Join(consts, ",") {
		t.Fatalf("envelope bodies %v, constants %v", types, consts)
	}
	// Every lifecycle action is announced by exactly one event type.
	seen := map[ticket.Action]string{}
	for _, typ := range types {
		if a, ok := events.ActionOf(typ); ok {
			if prev, dup := seen[a]; dup {
				t.Errorf("action %s announced by %s and %s", a, prev, typ)
			}
			seen[a] = typ
		}
	}
	for _, a := range ticket.Actions() {
		if _, ok := seen[a]; !ok {
			t.Errorf("action %s has no event", a)
		}
	}
}

func TestNewAndDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	m := events.Meta{TicketID: ids.New(), TicketNumber: "HH-20261126-00001", Version: 2,
		OccurredAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), Producer: "dispatch",
		Actor: &whistlev1.Actor{Id: "service:dispatch"}}
	ev, err := events.New(m, &whistlev1.TicketDispatched{LeadDepartmentId: "xc-urban"})
	if err != nil {
		t.Fatal(err)
	}
	if got := events.TypeOf(ev); got != events.Dispatched {
		t.Fatalf("TypeOf = %q", got)
	}
	data, _ := proto.Marshal(ev)
	back, err := events.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(ev, back) {
		t.Fatalf("round trip changed the event:\n%v\n%v", ev, back)
	}
	if _, err := events.New(m, &whistlev1.Ticket{}); err == nil {
		t.Fatal("a Ticket was accepted as an event body")
	}
}

func TestDecodeRefusesBrokenEnvelopes(t *testing.T) {
	t.Parallel()
	good := func() *whistlev1.Event {
		return events.MustNew(events.Meta{TicketID: ids.New(), Version: 1}, &whistlev1.TicketReported{})
	}
	tests := []struct {
		name   string
		mutate func(*whistlev1.Event)
		data   []byte
	}{
		{name: "not protobuf", data: []byte{0xff, 0xff, 0xff}},
		{name: "no event id", mutate: func(e *whistlev1.Event) { e.EventId = "" }},
		{name: "no body", mutate: func(e *whistlev1.Event) { e.Body = nil }},
		{name: "no ticket id", mutate: func(e *whistlev1.Event) { e.TicketId = "" }},
		{name: "version zero", mutate: func(e *whistlev1.Event) { e.TicketVersion = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.data
			if data == nil {
				ev := good()
				tt.mutate(ev)
				data, _ = proto.Marshal(ev)
			}
			if _, err := events.Decode(data); err == nil {
				t.Fatal("Decode accepted it")
			}
		})
	}
}

// TestEvaluationOpened: the announcement of a round is an annotation about
// a ticket that decodes like every other event, and only evaluation emits it.
func TestEvaluationOpened(t *testing.T) {
	t.Parallel()
	due := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	ev := events.MustNew(events.Meta{TicketID: ids.New(), Version: 5, OccurredAt: due.Add(-72 * time.Hour), Producer: events.Evaluation},
		&whistlev1.TicketEvaluationOpened{Round: 2, EvaluateDue: timestamppb.New(due), DepartmentId: "xc-water"})
	if got := events.TypeOf(ev); got != events.EvaluationOpened {
		t.Fatalf("TypeOf = %q, want %q", got, events.EvaluationOpened)
	}
	data, _ := proto.Marshal(ev)
	back, err := events.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if o := back.GetEvaluationOpened(); o.GetRound() != 2 || !o.GetEvaluateDue().AsTime().Equal(due) || o.GetDepartmentId() != "xc-water" {
		t.Fatalf("decoded %v", back)
	}
	if events.IsTransition(events.EvaluationOpened) || !events.AboutTicket(events.EvaluationOpened) {
		t.Fatal("evaluation_opened must be an annotation about a ticket")
	}
	if got := events.Producers(events.EvaluationOpened); len(got) != 1 || got[0] != events.Evaluation {
		t.Fatalf("producers %v; want evaluation alone", got)
	}
}
