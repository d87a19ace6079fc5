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
	// EscalationLevel is the supervision level dispatch announced.
	EscalationLevel int32
	// Paused is set while the resolve clock stands still.
	Paused bool
	// Binding is set when an arbitration assigned the ticket.
	Binding bool
	// ExtensionDue is the deadline asked for, while undecided.
	ExtensionDue time.Time
	// Actor is who made the change being saved (not stored).
	Actor Actor
	// dirty marks a change to save.
	dirty bool
}

// Announcement is an event the response service owes after a change.
type Announcement struct {
	// Kind is the event type: accepted, resolved, returned, progressed or extension_requested.
	Kind         string
	Note         string
	ReturnReason int32
	// Clock is 1 to pause the resolve clock, 2 to resume it (whistle.v1.ClockChange).
	Clock        int32
	Attachments  []Attachment
	RequestedDue time.Time
}

// Attachment is the metadata of a file kept outside Whistle.
type Attachment struct {
	Name   string
	Size   int64
	SHA256 string
	URL    string
}

// touch marks the item changed at now.
func (it *Item) touch(now time.Time) { it.UpdatedAt, it.dirty = now, true }

// Dirty reports whether the item changed since it was loaded.
func (it *Item) Dirty() bool { return it.dirty }

// inbox is what the use cases need from storage: Update locks a ticket's item
// (zero if new), lets fn change it and saves it with the event announcing
// what fn returns (nil for nothing), atomically.
type inbox interface {
	Update(ctx context.Context, ticketID string, fn func(it *Item) (*Announcement, error)) error
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
	if err := it.mine(actor); err != nil {
		return err
	}
	next, err := ticket.Next(it.Status, action)
	if err != nil {
		return err
	}
	it.Status, it.Version, it.Actor = next, it.Version+1, actor
	it.touch(now)
	return nil
}

// mine refuses an actor of another department, or a ticket in no inbox.
func (it *Item) mine(actor Actor) error {
	if it.Status == ticket.StatusUnknown {
		return ErrNotFound
	}
	if actor.OrgUnitID != it.DepartmentID {
		return ErrNotYours
	}
	return nil
}

// working reports whether the department is working on the ticket (accepted or reworking).
func (it *Item) working() bool { return it.Status == ticket.Accepted || it.Status == ticket.Reopened }
