package response

import (
	"context"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// ReportAssist records an assisting department's part as done (joint
// handling: the lead resolves once every assist is in). Each assisting
// department reports once, while the ticket is open with its lead.
func (s *Service) ReportAssist(ctx context.Context, ticketID, note string, attachments []Attachment, actor Actor) (Item, error) {
	return s.act(ctx, "report_assist", ticketID, func(it *Item) (*Announcement, error) {
		if it.Status == ticket.StatusUnknown {
			return nil, ErrNotFound
		}
		part, ok := it.assist(actor.OrgUnitID)
		switch {
		case !ok:
			return nil, ErrNotAssisting
		case part.Reported:
			return nil, ErrAssistReported
		case it.Status != ticket.Dispatched && !it.working():
			return nil, ErrNotWorking
		}
		now := s.clock.Now()
		part.Reported, part.Note, part.ReportedAt = true, note, now
		it.Actor = actor
		it.touch(now)
		return &Announcement{Kind: "progressed", Note: note, Attachments: attachments, AssistDone: true,
			Department: actor.OrgUnitID}, nil
	})
}
