package response

import (
	"context"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Actor is who acts: a person acting for an org unit.
type Actor struct {
	ID, OrgUnitID, Name string
}

// Item is a ticket in a department's inbox.
type Item struct {
	TicketID, Number string
	DepartmentID     string
	Status           ticket.Status
	Version          int64
	Category         string
	Title            string
	Synthetic        bool
	AcceptDue        time.Time
	ResolveDue       time.Time
	DispatchedAt     time.Time
	UpdatedAt        time.Time
	ReworkCount      int32
	ReworkReasons    []string
	ReworkComment    string
	Result           string
	// TraceParent is the ticket's own trace.
	TraceParent string
	// Snapshot is the ticket as reported, kept for display by the API
	// adapter; the rules never read it.
	Snapshot []byte
	// Actor is who made the change being saved (not stored).
	Actor Actor
}

// inbox is what the use cases need from storage: Update locks a ticket's item
// (zero if new), lets fn change it and saves it with the event announcing the
// action fn returns ("" for none), atomically.
type inbox interface {
	Update(ctx context.Context, ticketID string, fn func(it *Item) (ticket.Action, error)) error
	Get(ctx context.Context, ticketID string) (Item, error)
	List(ctx context.Context, f InboxFilter) ([]Item, error)
	TraceParent(ctx context.Context, ticketID string) string
}

// NextDue is the deadline the department faces next: to report in while
// dispatched, to resolve while accepted or reopened, none otherwise. Inboxes
// sort by it.
func (it Item) NextDue() time.Time {
	switch it.Status {
	case ticket.Dispatched:
		return it.AcceptDue
	case ticket.Accepted, ticket.Reopened:
		return it.ResolveDue
	default:
		return time.Time{}
	}
}

// act moves the item by action, as actor, at now.
func (it *Item) act(action ticket.Action, actor Actor, now time.Time) error {
	if actor.OrgUnitID != it.DepartmentID {
		return ErrNotYours
	}
	next, err := ticket.Next(it.Status, action)
	if err != nil {
		return err
	}
	it.Status, it.Version, it.UpdatedAt, it.Actor = next, it.Version+1, now, actor
	return nil
}
