package dispatch

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Reported is a newly reported ticket, as dispatch needs it.
type Reported struct {
	TicketID, Number string
	Version          int64
	Facts            Facts
	Synthetic        bool
	TraceParent      string
	Snapshot         []byte
}

// DispatchReported routes a newly reported ticket by the active catalog: to a
// lead department (dispatched) or to a person (triaged).
func (s *Service) DispatchReported(ctx context.Context, r Reported) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, r.TicketID, func(a *Assignment) (ticket.Action, error) {
		decision = ticket.Order(ticket.Monotonic, a.Version, r.Version, true)
		if decision != ticket.Apply {
			return "", nil
		}
		*a = Assignment{TicketID: r.TicketID, Number: r.Number, Status: ticket.Reported, Version: r.Version,
			Facts: r.Facts, Synthetic: r.Synthetic, TraceParent: r.TraceParent, Snapshot: r.Snapshot}
		cat := s.catalog.Load()
		route := cat.Route(r.Facts, s.clock.Now())
		action := ticket.Dispatch
		if route.Triage {
			action = ticket.SendToTriage
		}
		return action, a.apply(action, route, cat.Version, s.clock.Now())
	})
	if err != nil {
		return 0, fmt.Errorf("dispatch %s: %w", r.TicketID, err)
	}
	return decision, nil
}
