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
	// Area lists the org units the ticket lies in, from its grid up.
	Area []string
	// Assists are the assisting departments' parts.
	Assists []Assist
	// Role is the part of the department the item is shown to (not stored).
	Role Role
	// Actor is who made the change being saved (not stored).
	Actor Actor
	// dirty marks a change to save.
	dirty bool
}

// Assist is an assisting department's part in a ticket.
type Assist struct {
	DepartmentID string
	Reported     bool
	Note         string
	ReportedAt   time.Time
}

// Role is a department's part in a ticket; values equal whistle.v1.InboxRole.
type Role int32

// The roles.
const (
	RoleLead   Role = 1
	RoleAssist Role = 2
)

// assist returns the part of dept, if it assists.
func (it *Item) assist(dept string) (*Assist, bool) {
	for i := range it.Assists {
		if it.Assists[i].DepartmentID == dept {
			return &it.Assists[i], true
		}
	}
	return nil, false
}

// missingAssists lists the assisting departments that have not reported.
func (it *Item) missingAssists() []string {
	var out []string
	for _, a := range it.Assists {
		if !a.Reported {
			out = append(out, a.DepartmentID)
		}
	}
	return out
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
	// AssistDone marks an assisting department's report.
	AssistDone bool
	// Department that made the announcement, when not the lead (an assist).
	Department string
	// MissingAssists explains resolving before every assist was in.
	MissingAssists string
	// Withdrawn marks a cancellation asked for by the reporter.
	Withdrawn bool
	// A merge: the original and whether its matter type differs.
	Original, OriginalNumber string
	AcrossMatters            bool
}

// Attachment is the metadata of a file: one Whistle keeps (MediaID) or one
// kept elsewhere (URL).
type Attachment struct {
	Name    string
	Size    int64
	SHA256  string
	URL     string
	MediaID string
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
	// LockSet reads and locks many tickets' items in the transaction ctx
	// carries (tickets in no inbox are absent); SaveSet writes those a batch
	// changed, in it.
	LockSet(ctx context.Context, ids []string) (map[string]*lockedItem, error)
	SaveSet(ctx context.Context, list []*lockedItem) error
	Get(ctx context.Context, ticketID string) (Item, error)
	List(ctx context.Context, f InboxFilter, now time.Time) ([]Item, error)
	TraceParent(ctx context.Context, ticketID string) string
	// Changes returns up to limit changes to dept's inbox after cursor, in order.
	Changes(ctx context.Context, dept string, after int64, limit int) ([]Change, error)
	// Latest returns the cursor of dept's newest change (0 when none).
	Latest(ctx context.Context, dept string) (int64, error)
	// Sequence numbers the committed changes that have none yet; it returns
	// how many and the departments concerned.
	Sequence(ctx context.Context) (int, []string, error)
}

// Change is one change to a department's inbox, as the watch stream sends it.
type Change struct {
	Cursor int64
	// Removed says the item left the department's inbox.
	Removed bool
	// Item is the item as the department sees it after the change, encoded
	// by the API adapter (the rules never read it).
	Item      []byte
	ChangedAt time.Time
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
	return it.move(action, actor, now)
}

// move moves the item by action, as actor, at now, raising the version.
func (it *Item) move(action ticket.Action, actor Actor, now time.Time) error {
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
