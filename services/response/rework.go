package response

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Reopening is an unsatisfied evaluation sending a ticket back.
type Reopening struct {
	TicketID    string
	Version     int64
	Reasons     []string
	Comment     string
	ReworkCount int32
}

// Rework puts a reopened ticket back into the same department's inbox, with
// the evaluation's reasons and the rework count.
func (s *Service) Rework(ctx context.Context, r Reopening) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, r.TicketID, func(it *Item) (ticket.Action, error) {
		if it.Status == ticket.StatusUnknown {
			decision = ticket.Later // its dispatch has not reached us yet
			return "", nil
		}
		decision = ticket.Order(ticket.Monotonic, it.Version, r.Version, true)
		if decision != ticket.Apply {
			return "", nil
		}
		it.Status, it.Version, it.UpdatedAt = ticket.Reopened, r.Version, s.clock.Now()
		it.ReworkCount, it.ReworkReasons, it.ReworkComment = r.ReworkCount, r.Reasons, r.Comment
		return "", nil
	})
	if err != nil {
		return 0, fmt.Errorf("rework %s: %w", r.TicketID, err)
	}
	return decision, nil
}

// Finish records that a ticket ended elsewhere (closed, merged, cancelled);
// it leaves the open inbox.
func (s *Service) Finish(ctx context.Context, ticketID string, version int64, action ticket.Action) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, ticketID, func(it *Item) (ticket.Action, error) {
		if it.Status == ticket.StatusUnknown {
			decision = ticket.Stale // never reached an inbox: nothing to finish
			return "", nil
		}
		decision = ticket.Order(ticket.Monotonic, it.Version, version, true)
		if decision == ticket.Apply {
			it.Status, it.Version, it.UpdatedAt = ticket.Target(action), version, s.clock.Now()
		}
		return "", nil
	})
	if err != nil {
		return 0, fmt.Errorf("finish %s: %w", ticketID, err)
	}
	return decision, nil
}
