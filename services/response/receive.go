package response

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Assigned is a dispatched (or arbitrated) ticket, as its inbox needs it.
type Assigned struct {
	TicketID, Number      string
	Version               int64
	DepartmentID          string
	Category, Title       string
	Synthetic             bool
	AcceptDue, ResolveDue time.Time
	EscalationLevel       int32
	// Binding is set by arbitration: the department cannot return it.
	Binding     bool
	TraceParent string
	// Snapshot is the ticket as reported; nil keeps the one the item has.
	Snapshot []byte
	// Assisting departments help the lead; Area lists the ticket's org units.
	Assisting []string
	Area      []string
}

// Receive puts a dispatched or arbitrated ticket into its lead department's
// inbox (moving it from another department's after a re-dispatch).
func (s *Service) Receive(ctx context.Context, a Assigned) (ticket.Decision, error) {
	decision, err := s.update(ctx, a.TicketID, s.receiveStep(a))
	if err != nil {
		return 0, fmt.Errorf("receive %s: %w", a.TicketID, err)
	}
	return decision, nil
}

// receiveStep is the step that puts a into its lead department's inbox.
func (s *Service) receiveStep(a Assigned) step {
	return func(it *Item) (ticket.Decision, error) {
		a := a // a step may run again on a fresh item: never change what it was given
		decision := ticket.Order(ticket.Monotonic, it.Version, a.Version, true)
		if decision != ticket.Apply {
			return decision, nil
		}
		if a.Snapshot == nil && it.Snapshot == nil {
			return ticket.Later, nil // an arbitration of a ticket this inbox has not seen yet
		}
		if a.Snapshot == nil { // an arbitration names only the department and deadlines
			a.Snapshot, a.TraceParent, a.Category, a.Title, a.Synthetic = it.Snapshot, it.TraceParent, it.Category, it.Title, it.Synthetic
			a.EscalationLevel, a.Area = max(a.EscalationLevel, it.EscalationLevel), it.Area
			for _, as := range it.Assists {
				a.Assisting = append(a.Assisting, as.DepartmentID)
			}
		}
		assists := make([]Assist, 0, len(a.Assisting))
		for _, d := range a.Assisting {
			part := Assist{DepartmentID: d}
			if old, ok := it.assist(d); ok {
				part = *old // a part already reported stays reported
			}
			assists = append(assists, part)
		}
		now := s.clock.Now()
		*it = Item{TicketID: a.TicketID, Number: a.Number, DepartmentID: a.DepartmentID, Status: ticket.Dispatched,
			Version: a.Version, Category: a.Category, Title: a.Title, Synthetic: a.Synthetic,
			AcceptDue: a.AcceptDue, ResolveDue: a.ResolveDue, DispatchedAt: now, EscalationLevel: a.EscalationLevel,
			Binding: a.Binding, ReworkCount: it.ReworkCount, TraceParent: a.TraceParent, Snapshot: a.Snapshot,
			Area: a.Area, Assists: assists}
		it.touch(now)
		return decision, nil
	}
}
