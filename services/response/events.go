package response

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

// The events that end a ticket, which response follows to empty the inbox.
var finishing = []string{events.Closed, events.Merged, events.Cancelled}

func (s *Service) applyDispatched(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	d := ev.GetDispatched()
	snapshot, err := proto.Marshal(d.GetTicket())
	if err != nil {
		return 0, err
	}
	return s.Receive(ctx, Assigned{
		TicketID: ev.GetTicketId(), Number: ev.GetTicketNumber(), Version: ev.GetTicketVersion(),
		DepartmentID: d.GetLeadDepartmentId(), Category: d.GetTicket().GetCategory(), Title: d.GetTicket().GetTitle(),
		Synthetic: ev.GetSynthetic(), AcceptDue: timeconv.FromProto(d.GetAcceptDue()),
		ResolveDue: timeconv.FromProto(d.GetResolveDue()), TraceParent: telemetry.TraceParent(ctx), Snapshot: snapshot,
	})
}

func (s *Service) applyReopened(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	r := ev.GetReopened()
	return s.Rework(ctx, Reopening{TicketID: ev.GetTicketId(), Version: ev.GetTicketVersion(),
		Reasons: r.GetReasonCodes(), Comment: r.GetComment(), ReworkCount: r.GetReworkCount()})
}

func (s *Service) applyFinished(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	action, _ := events.ActionOf(events.TypeOf(ev))
	return s.Finish(ctx, ev.GetTicketId(), ev.GetTicketVersion(), action)
}

// toEvent announces the action a department just took on it.
func toEvent(it Item, action ticket.Action) *whistlev1.Event {
	meta := events.Meta{
		TicketID: it.TicketID, TicketNumber: it.Number, Version: it.Version, OccurredAt: it.UpdatedAt,
		Producer: Name, Synthetic: it.Synthetic,
		Actor: &whistlev1.Actor{Id: it.Actor.ID, OrgUnitId: it.Actor.OrgUnitID, DisplayName: it.Actor.Name},
	}
	switch action {
	case ticket.Accept:
		return events.MustNew(meta, &whistlev1.TicketAccepted{DepartmentId: it.DepartmentID})
	case ticket.Resolve:
		return events.MustNew(meta, &whistlev1.TicketResolved{DepartmentId: it.DepartmentID, Result: it.Result})
	}
	panic("response announces no " + string(action) + " events")
}
