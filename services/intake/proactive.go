package intake

import (
	"context"
	"fmt"
)

// HotSpot is a recurring problem monitoring found (未诉先办).
type HotSpot struct {
	ID          string
	Category    string
	GridID      string
	Rule        string
	Description string
	TicketIDs   []string
}

// ProactiveReporter is the reporting org unit of proactive tickets.
const ProactiveReporter = "monitoring"

// RaiseProactive turns a hot spot into a proactive ticket, once per hot spot:
// the hot spot's id is the idempotency key. Backpressure does not apply:
// hot spots are few, and a refused proactive event would be retried until it
// was dead-lettered.
func (s *Service) RaiseProactive(ctx context.Context, h HotSpot) (Ticket, error) {
	desc := h.Description
	if desc == "" {
		desc = fmt.Sprintf("Recurring %s in grid %s (%s)", h.Category, h.GridID, h.Rule)
	}
	t, _, err := s.report(ctx, ReportInput{
		IdempotencyKey:   "hotspot:" + h.ID,
		Kind:             KindDaily,
		Source:           SourceProactive,
		Category:         h.Category,
		Title:            "Proactive: recurring " + h.Category,
		Description:      desc,
		Location:         Location{GridID: h.GridID},
		Reporter:         Reporter{OrgUnitID: ProactiveReporter},
		RelatedTicketIDs: h.TicketIDs,
	}, false)
	return t, err
}
