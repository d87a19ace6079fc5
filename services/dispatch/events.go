package dispatch

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// The events dispatch follows besides reported: every move another service
// makes on a routed ticket.
var followed = []string{events.Accepted, events.Returned, events.Resolved, events.Reopened, events.Closed,
	events.Merged, events.Cancelled}

// applyReported routes a newly reported ticket.
func (s *Service) applyReported(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	r, err := fromReportedEvent(ctx, ev)
	if err != nil {
		return 0, err
	}
	return s.DispatchReported(ctx, r)
}

// applyFollowed records a move made elsewhere.
func (s *Service) applyFollowed(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	typ := events.TypeOf(ev)
	action, _ := events.ActionOf(typ)
	tr := Transition{TicketID: ev.GetTicketId(), Version: ev.GetTicketVersion(), Action: action}
	if r := ev.GetReturned(); r != nil {
		tr.Department, tr.Note = r.GetDepartmentId(), r.GetReasonCode().String()+": "+r.GetNote()
	}
	return s.Follow(ctx, tr)
}

func fromReportedEvent(ctx context.Context, ev *whistlev1.Event) (Reported, error) {
	t := ev.GetReported().GetTicket()
	snapshot, err := proto.Marshal(t)
	if err != nil {
		return Reported{}, fmt.Errorf("encode ticket snapshot: %w", err)
	}
	return Reported{
		TicketID: ev.GetTicketId(), Number: ev.GetTicketNumber(), Version: ev.GetTicketVersion(),
		Facts:     Facts{Category: t.GetCategory(), GridID: t.GetLocation().GetGridId(), Kind: int32(t.GetKind())},
		Synthetic: ev.GetSynthetic(), TraceParent: telemetry.TraceParent(ctx), Snapshot: snapshot,
	}, nil
}

// toEvent announces the action dispatch just took on a.
func toEvent(a Assignment, action ticket.Action) *whistlev1.Event {
	meta := events.Meta{
		TicketID: a.TicketID, TicketNumber: a.Number, Version: a.Version, OccurredAt: a.UpdatedAt,
		Producer: Name, Actor: &whistlev1.Actor{Id: "service:" + Name}, Synthetic: a.Synthetic,
	}
	snapshot := &whistlev1.Ticket{}
	_ = proto.Unmarshal(a.Snapshot, snapshot) // written by fromReportedEvent
	switch action {
	case ticket.Dispatch:
		return events.MustNew(meta, &whistlev1.TicketDispatched{
			LeadDepartmentId: a.Lead, AssistingDepartmentIds: a.Assisting,
			AcceptDue: timestamppb.New(a.AcceptDue), ResolveDue: timestamppb.New(a.ResolveDue),
			CatalogVersion: a.CatalogVersion, Rule: a.Rule, Ticket: snapshot,
		})
	case ticket.SendToTriage:
		return events.MustNew(meta, &whistlev1.TicketTriaged{
			OrgUnitId: a.TriageOrgUnit, Reason: a.Rule, CatalogVersion: a.CatalogVersion, Ticket: snapshot,
		})
	}
	panic(fmt.Sprintf("dispatch announces no %s events", action))
}
