package dispatch

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Transition is a move another service made on a ticket dispatch routed.
type Transition struct {
	TicketID   string
	Version    int64
	Action     ticket.Action
	Department string
	// Note explains a return.
	Note string
}

// Follow records a transition made elsewhere, so dispatch knows where each
// ticket stands. A returned ticket comes back to dispatch: it waits in triage
// at its street for a person to send it on.
func (s *Service) Follow(ctx context.Context, tr Transition) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, tr.TicketID, func(a *Assignment) (ticket.Action, error) {
		if a.Status == ticket.StatusUnknown {
			// Dispatch routed every ticket it hears about; this one's reported
			// event is still on its way.
			decision = ticket.Later
			return "", nil
		}
		decision = ticket.Order(ticket.Monotonic, a.Version, tr.Version, true)
		if decision != ticket.Apply {
			return "", nil
		}
		// Follow by the event, not by our view: transitions arrive on separate
		// consumers and may overtake each other.
		a.Status, a.Version, a.UpdatedAt = ticket.Target(tr.Action), tr.Version, s.clock.Now()
		if tr.Action != ticket.Return {
			return "", nil
		}
		street, _ := s.catalog.Load().ancestor(a.Facts.GridID, LevelStreet)
		if street.ID == "" {
			street.ID = s.catalog.Load().city()
		}
		route := Route{Triage: true, TriageOrgUnit: street.ID,
			Rule: fmt.Sprintf("returned by %s (%s): triage at %s", tr.Department, tr.Note, street.ID)}
		return ticket.SendToTriage, a.apply(ticket.SendToTriage, route, a.CatalogVersion, s.clock.Now())
	})
	if err != nil {
		return 0, fmt.Errorf("follow %s of %s: %w", tr.Action, tr.TicketID, err)
	}
	return decision, nil
}
