package response

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Assigned is a dispatched ticket, as its inbox needs it.
type Assigned struct {
	TicketID, Number      string
	Version               int64
	DepartmentID          string
	Category, Title       string
	Synthetic             bool
	AcceptDue, ResolveDue time.Time
	TraceParent           string
	Snapshot              []byte
}

// Receive puts a dispatched ticket into its lead department's inbox (or
// moves it there from another department's after a re-dispatch).
func (s *Service) Receive(ctx context.Context, a Assigned) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, a.TicketID, func(it *Item) (ticket.Action, error) {
		decision = ticket.Order(ticket.Monotonic, it.Version, a.Version, true)
		if decision != ticket.Apply {
			return "", nil
		}
		now := s.clock.Now()
		*it = Item{TicketID: a.TicketID, Number: a.Number, DepartmentID: a.DepartmentID, Status: ticket.Dispatched,
			Version: a.Version, Category: a.Category, Title: a.Title, Synthetic: a.Synthetic,
			AcceptDue: a.AcceptDue, ResolveDue: a.ResolveDue, DispatchedAt: now, UpdatedAt: now,
			ReworkCount: it.ReworkCount, TraceParent: a.TraceParent, Snapshot: a.Snapshot}
		return "", nil
	})
	if err != nil {
		return 0, fmt.Errorf("receive %s: %w", a.TicketID, err)
	}
	return decision, nil
}
