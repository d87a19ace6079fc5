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
	decision, err := s.update(ctx, r.TicketID, s.routeReported(r))
	if err != nil {
		return 0, fmt.Errorf("dispatch %s: %w", r.TicketID, err)
	}
	return decision, nil
}

// routeReported is the step that routes r.
func (s *Service) routeReported(r Reported) step {
	return func(a *Assignment) (ticket.Decision, []Announcement, error) {
		decision := ticket.Order(ticket.Monotonic, a.Version, r.Version, true)
		if decision != ticket.Apply {
			return decision, nil, nil
		}
		*a = Assignment{TicketID: r.TicketID, Number: r.Number, Status: ticket.Reported, Version: r.Version,
			Facts: r.Facts, Synthetic: r.Synthetic, TraceParent: r.TraceParent, Snapshot: r.Snapshot}
		cat, now := s.catalog(), s.clock.Now()
		if a.Area = cat.Path(r.Facts.GridID); len(a.Area) == 0 {
			a.Area = []string{cat.city()} // an unknown grid lies somewhere in the city
		}
		anns, err := a.applyRoute(cat.Route(r.Facts, now), cat.Version, now)
		return decision, anns, err
	}
}
