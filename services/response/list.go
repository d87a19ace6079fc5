package response

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// InboxFilter selects a department's items.
type InboxFilter struct {
	DepartmentID string
	// Role lists the tickets the department leads (default) or assists on.
	Role Role
	// Statuses to keep; empty keeps the open ones.
	Statuses []ticket.Status
	// Category keeps one matter type; Area keeps tickets in an org unit.
	Category, Area string
	// OverdueOnly keeps tickets whose next deadline has passed.
	OverdueOnly bool
	// MinEscalation keeps tickets supervised at this level or higher.
	MinEscalation int32
	// After continues after this position.
	After InboxCursor
	Limit int
}

// InboxCursor is a position in an inbox sorted by next deadline, then ticket id.
type InboxCursor struct {
	Due      time.Time
	TicketID string
}

// OpenStatuses are the statuses a department still has work in.
var OpenStatuses = []ticket.Status{ticket.Dispatched, ticket.Accepted, ticket.Reopened}

// DefaultPageSize is the page size when a request names none.
const DefaultPageSize = 50

// ListInbox returns a department's items, soonest next deadline first (items
// with none last), and the cursor to continue from when there may be more.
func (s *Service) ListInbox(ctx context.Context, f InboxFilter) ([]Item, *InboxCursor, error) {
	if len(f.Statuses) == 0 {
		f.Statuses = OpenStatuses
	}
	if f.Limit <= 0 {
		f.Limit = DefaultPageSize
	}
	if f.Role == 0 {
		f.Role = RoleLead
	}
	want := f.Limit
	f.Limit++
	items, err := s.store.List(ctx, f, s.clock.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("list inbox of %s: %w", f.DepartmentID, err)
	}
	if len(items) <= want {
		return items, nil, nil
	}
	items = items[:want]
	last := items[want-1]
	return items, &InboxCursor{Due: sortDue(last), TicketID: last.TicketID}, nil
}

// farFuture sorts items without a deadline after every real one.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func sortDue(it Item) time.Time {
	if d := it.NextDue(); !d.IsZero() {
		return d
	}
	return farFuture
}

// GetItem returns a ticket's inbox item.
func (s *Service) GetItem(ctx context.Context, ticketID string) (Item, error) {
	it, err := s.store.Get(ctx, ticketID)
	if err != nil {
		return Item{}, fmt.Errorf("get inbox item %s: %w", ticketID, err)
	}
	return it, nil
}
