package monitoring

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Project applies one event to the read models: the ticket's timeline, its
// state and the live counts. Events apply in version order (a transition
// waits until the one before it has applied), exactly once each.
func (s *Service) Project(ctx context.Context, ticketID string, c Change) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, ticketID, func(st *State) (*Entry, error) {
		decision = ticket.Order(ticket.Contiguous, st.Version, c.Entry.Version, c.Action != "")
		if decision != ticket.Apply {
			return nil, nil
		}
		*st = st.next(c)
		st.TicketID = ticketID
		c.Entry.Status = st.Status
		return &c.Entry, nil
	})
	if err != nil {
		return 0, fmt.Errorf("project %s of %s: %w", c.Entry.EventType, ticketID, err)
	}
	return decision, nil
}
