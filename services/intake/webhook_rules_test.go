package intake

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func TestWhichEventsASubscriptionWants(t *testing.T) {
	t.Parallel()
	concerned := map[string]bool{"xc-hd-dj-g01": true, "xc-hd-dj": true, "xc-hd": true, "xc": true, "hh": true, "xc-water": true}
	tests := []struct {
		name  string
		sub   Subscription
		typ   string
		wants bool
	}{
		{"everything", Subscription{}, events.Closed, true},
		{"its type", Subscription{EventTypes: []string{events.Dispatched}}, events.Dispatched, true},
		{"another type", Subscription{EventTypes: []string{events.Dispatched}}, events.Closed, false},
		{"a unit the event names", Subscription{Units: []string{"xc-water"}}, events.Dispatched, true},
		{"a unit above the ticket's grid", Subscription{Units: []string{"xc-hd"}}, events.Accepted, true},
		{"a unit elsewhere", Subscription{Units: []string{"yq"}}, events.Accepted, false},
		{"type and unit both needed", Subscription{EventTypes: []string{events.Closed}, Units: []string{"xc-water"}}, events.Dispatched, false},
		{"one of several units", Subscription{Units: []string{"yq", "xc"}}, events.Resolved, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.sub.wants(tt.typ, concerned); got != tt.wants {
				t.Errorf("%+v wants a %s event: %v, want %v", tt.sub, tt.typ, got, tt.wants)
			}
		})
	}
}

func TestImportedHistoryAndEventsAboutNoTicketAreNotDelivered(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{events.Imported, events.OrgTree, events.Proactive, "no_such_type"} {
		if deliverable(typ) {
			t.Errorf("%s is deliverable", typ)
		}
	}
	for _, typ := range []string{events.Reported, events.Dispatched, events.Escalated, events.Closed, events.EvaluationOpened} {
		if !deliverable(typ) {
			t.Errorf("%s is not deliverable", typ)
		}
	}
}

// dispatchedEvent is a dispatch of a ticket reported by a resident who gave
// their name and phone.
func dispatchedEvent() *whistlev1.Event {
	return events.MustNew(events.Meta{TicketID: "01a23b25-dd8d-7153-97fd-1014d6a47ea8", TicketNumber: "HH-20261203-00001", Version: 2,
		OccurredAt: timestamppb.Now().AsTime(), Producer: "dispatch", Actor: &whistlev1.Actor{Id: "service:dispatch", DisplayName: "派单"}},
		&whistlev1.TicketDispatched{LeadDepartmentId: "xc-water", AssistingDepartmentIds: []string{"xc-urban"},
			Ticket: &whistlev1.Ticket{Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
				Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01", Name: "王小明", Phone: "+86 139 1234 5678"}}})
}

func TestAnEventNamesItsActorDepartmentsAndGrid(t *testing.T) {
	t.Parallel()
	got := strings.Join(namedUnits(dispatchedEvent(), "xc-hd-dj-g01"), " ")
	if got != "xc-hd-dj-g01 xc-water xc-urban" {
		t.Errorf("units named: %s; want the grid and both departments (the service acts for no unit)", got)
	}
}

func TestDeliveriesCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	ev := dispatchedEvent()
	reported := events.MustNew(events.Meta{TicketID: ev.GetTicketId(), Version: 1, OccurredAt: timestamppb.Now().AsTime(), Producer: Name,
		Actor: &whistlev1.Actor{Id: "reporter:xc-hd-dj-g01", OrgUnitId: "xc-hd-dj-g01", DisplayName: "王小明"}},
		&whistlev1.TicketReported{Ticket: ev.GetDispatched().GetTicket()})
	for _, e := range []*whistlev1.Event{ev, reported} {
		ce, err := toCloudEvent(e, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		if err != nil {
			t.Fatal(err)
		}
		data := string(ce.Data)
		if strings.Contains(data, "王小明") || strings.Contains(data, "1234 5678") || !strings.Contains(data, "xc-hd-dj-g01") {
			t.Errorf("%s delivers %s; want the ticket without the reporter's name and phone", ce.Type, data)
		}
		if e.GetActor().GetDisplayName() == "" || e.GetDispatched().GetTicket().GetReporter().GetPhone() == "" && e == ev {
			t.Errorf("the event itself was changed: %v", e)
		}
		if ce.ID != e.GetEventId() || ce.Extensions["whistleticket"] != e.GetTicketId() || ce.Extensions["traceparent"] == "" || ce.Subject != e.GetTicketNumber() {
			t.Errorf("cloud event %+v of %v", ce, e)
		}
	}
	if ce, _ := toCloudEvent(ev, ""); !strings.Contains(string(ce.Data), "派单") {
		t.Errorf("a service's display name was removed: %s", ce.Data)
	}
}
