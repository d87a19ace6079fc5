package intake

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// toReportedEvent announces a new ticket (version 1).
func toReportedEvent(t Ticket) *whistlev1.Event {
	return events.MustNew(events.Meta{
		TicketID: t.ID, TicketNumber: t.Number, Version: 1, OccurredAt: t.ReportedAt, Producer: Name,
		Actor:     &whistlev1.Actor{Id: "reporter:" + t.Reporter.OrgUnitID, OrgUnitId: t.Reporter.OrgUnitID, DisplayName: t.Reporter.Name},
		Synthetic: t.Synthetic,
	}, &whistlev1.TicketReported{Ticket: toProtoTicket(t)})
}

// toRepeatedEvent says that report t repeated a closed ticket, at that
// ticket's version.
func toRepeatedEvent(t Ticket, r repeat) *whistlev1.Event {
	return events.MustNew(events.Meta{
		TicketID: r.TicketID, TicketNumber: r.Number, Version: r.Version, OccurredAt: t.ReportedAt, Producer: Name,
		Actor:     &whistlev1.Actor{Id: "reporter:" + t.Reporter.OrgUnitID, OrgUnitId: t.Reporter.OrgUnitID},
		Synthetic: t.Synthetic,
	}, &whistlev1.TicketRepeated{ByTicketId: t.ID, ByTicketNumber: t.Number, ClosedAt: timestamppb.New(r.ClosedAt)})
}

// applyProactive turns a proactive event into a proactive ticket.
func (s *Service) applyProactive(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	_, err := s.RaiseProactive(ctx, fromProactiveEvent(ev.GetProactive()))
	if errors.Is(err, ErrKeyReused) {
		// Raised already; the hot spot was found again with other words (a
		// rebuild of the read models under changed thresholds): one ticket is enough.
		return ticket.Apply, nil
	}
	if err != nil {
		return 0, err
	}
	return ticket.Apply, nil
}

func fromProactiveEvent(p *whistlev1.HotSpotDetected) HotSpot {
	return HotSpot{
		ID: p.GetHotSpotId(), Category: p.GetCategory(), GridID: p.GetGridId(), Rule: p.GetRule(),
		Description: p.GetDescription(), TicketIDs: p.GetTicketIds(),
	}
}
