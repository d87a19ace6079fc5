package dispatch

import (
	"context"
	"fmt"
	"github.com/whistle-civic/whistle/pkg/calendar"
	"time"

	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Assignment is dispatch's record of a ticket: how it was routed, who owns
// it, its deadlines and supervision, and where it stands.
type Assignment struct {
	TicketID, Number string
	Status           ticket.Status
	Version          int64
	Facts            Facts
	// Area lists the org units the ticket lies in, from its grid up to the city.
	Area      []string
	Synthetic bool
	// Lead and Assisting are the departments handling the ticket now.
	Lead      string
	Assisting []string
	// Owner is the department responsible for coordinating the ticket until
	// another accepts it (首接负责): the first to receive it, then whichever
	// accepted it last.
	Owner string
	// WallClock says the windows count in wall-clock time, not working time.
	WallClock                   bool
	AcceptWithin, ResolveWithin calendar.Window
	AcceptDue, ResolveDue       time.Time
	// PausedAt is when the resolve clock stopped; zero while it runs.
	PausedAt time.Time
	// EscalationLevel is the supervision level: 0 none, 1 street, 2 district, 3 city.
	EscalationLevel int32
	// NextCheck is when the scheduler must look at the deadlines again; zero for never.
	NextCheck time.Time
	// ReturnCount and Returners record returns; Binding is set by arbitration.
	ReturnCount int32
	Returners   []string
	Binding     bool
	// TriageOrgUnit is where the ticket waits for a person; Arbitration says
	// the person must decide a binding owner.
	TriageOrgUnit string
	Arbitration   bool
	// ExtensionDue and ExtensionReason describe an undecided request for more time.
	ExtensionDue    time.Time
	ExtensionReason string
	CatalogVersion  string
	Rule            string
	TraceParent     string
	// Snapshot is the ticket as reported, encoded by the event adapter;
	// the rules never read it.
	Snapshot  []byte
	UpdatedAt time.Time
	// dirty marks a change to save.
	dirty bool
}

// Actor is a person acting for an org unit.
type Actor struct {
	ID, OrgUnitID, Name string
}

// The announcements dispatch makes; each becomes the event of the same name.
const (
	annDispatched       = "dispatched"
	annTriaged          = "triaged"
	annArbitrated       = "arbitrated"
	annCancelled        = "cancelled"
	annMerged           = "merged"
	annEscalated        = "escalated"
	annRescheduled      = "rescheduled"
	annExtensionDecided = "extension_decided"
)

// Announcement is an event dispatch owes the other services after a change.
type Announcement struct {
	Kind string
	// Actor is who decided; zero when dispatch did it by itself.
	Actor Actor
	// Note explains a decision or a reschedule.
	Note   string
	ByHand bool
	// Escalation: the new level, the stage that is overdue, who supervises now, the deadline missed.
	Level    int32
	Stage    string
	Notified string
	DueAt    time.Time
	// Extension decisions.
	Granted   bool
	DecidedBy string
	// Withdrawn marks a cancellation asked for by the reporter.
	Withdrawn bool
	// A merge: the original and whether its matter type differs.
	Original, OriginalNumber string
	AcrossMatters            bool
}

// assignments is what the use cases need from storage: Update locks a
// ticket's assignment (zero if new), lets fn change it and saves it with the
// events announcing what fn returns, atomically.
type assignments interface {
	Update(ctx context.Context, ticketID string, fn func(a *Assignment) ([]Announcement, error)) error
	// LockSet reads and locks the assignments of many tickets in the
	// transaction ctx carries (tickets without one are absent); SaveSet
	// writes those changed and the events announcing the changes, in it.
	LockSet(ctx context.Context, ids []string) (map[string]*Assignment, error)
	SaveSet(ctx context.Context, list []*Assignment, evs []outbox.Entry) error
	Get(ctx context.Context, ticketID string) (Assignment, error)
	// EachDue applies fn to up to limit assignments whose NextCheck is not
	// after now, each locked so that no other replica handles it at the same
	// time, and returns how many it handled.
	EachDue(ctx context.Context, now time.Time, limit int, fn func(a *Assignment) ([]Announcement, error)) (int, error)
	// ListTriage returns tickets waiting for a person at any of the org units.
	ListTriage(ctx context.Context, orgUnits []string, after string, limit int) ([]Assignment, error)
}

// Responsible is who answers for the ticket now: its owning department, or
// before any department received it, the org unit where it waits.
func (a *Assignment) Responsible() string {
	if a.Owner != "" {
		return a.Owner
	}
	return a.TriageOrgUnit
}

// touch marks the assignment changed at now.
func (a *Assignment) touch(now time.Time) { a.UpdatedAt, a.dirty = now, true }

// Dirty reports whether the assignment changed since it was loaded.
func (a *Assignment) Dirty() bool { return a.dirty }

// move applies a lifecycle action, raising the version.
func (a *Assignment) move(action ticket.Action, now time.Time) error {
	next, err := ticket.Next(a.Status, action)
	if err != nil {
		return err
	}
	a.Status, a.Version = next, a.Version+1
	a.touch(now)
	return nil
}

// follow records a transition another service made, by the event's word.
func (a *Assignment) follow(action ticket.Action, version int64, now time.Time) {
	a.Status, a.Version = ticket.Target(action), version
	a.touch(now)
}

// clock returns how the ticket's windows count under cal.
func (a *Assignment) clock(cal *calendar.Calendar) calendar.Clock {
	return calendar.Clock{Cal: cal, Wall: a.WallClock}
}

// assign sends the ticket to lead with fresh deadlines from now, from
// REPORTED, TRIAGE or RETURNED.
func (a *Assignment) assign(action ticket.Action, lead string, assisting []string, c calendar.Clock, accept, resolve calendar.Window, now time.Time) error {
	if err := a.move(action, now); err != nil {
		return err
	}
	a.Lead, a.Assisting, a.TriageOrgUnit, a.Arbitration = lead, assisting, "", false
	a.WallClock, a.AcceptWithin, a.ResolveWithin = c.Wall, accept, resolve
	a.AcceptDue, a.ResolveDue = c.Due(now, accept), c.Due(now, resolve)
	a.PausedAt, a.ExtensionDue, a.ExtensionReason = time.Time{}, time.Time{}, ""
	a.NextCheck = a.AcceptDue
	if a.Owner == "" {
		a.Owner = lead
	}
	return nil
}

// waitForPerson sends the ticket to triage at unit.
func (a *Assignment) waitForPerson(unit string, arbitration bool, rule string, now time.Time) error {
	if err := a.move(ticket.SendToTriage, now); err != nil {
		return err
	}
	a.Lead, a.Assisting, a.TriageOrgUnit, a.Arbitration, a.Rule = "", nil, unit, arbitration, rule
	a.NextCheck, a.PausedAt, a.ExtensionDue, a.ExtensionReason = time.Time{}, time.Time{}, time.Time{}, ""
	return nil
}

// applyRoute applies a catalog route to a ticket dispatch holds.
func (a *Assignment) applyRoute(r Route, catalogVersion string, now time.Time) ([]Announcement, error) {
	a.CatalogVersion = catalogVersion
	if r.Triage {
		return []Announcement{{Kind: annTriaged, Note: r.Rule}}, a.waitForPerson(r.TriageOrgUnit, false, r.Rule, now)
	}
	a.Rule = r.Rule
	return []Announcement{{Kind: annDispatched, Note: r.Rule}},
		a.assign(ticket.Dispatch, r.Lead, r.Assisting, r.Clock, r.AcceptWithin, r.ResolveWithin, now)
}

// checkArea refuses an officer acting outside the org unit where the ticket
// waits (acting for that unit or one above it is fine).
func (a *Assignment) checkArea(cat *Catalog, by Actor) error {
	if !cat.Within(a.TriageOrgUnit, by.OrgUnitID) {
		return fmt.Errorf("%w: you act for %q; ticket %s waits at %s", ErrOutOfArea, by.OrgUnitID, a.Number, a.TriageOrgUnit)
	}
	return nil
}

// checkServes refuses a department that does not serve the ticket's grid.
func (a *Assignment) checkServes(cat *Catalog, dept string, by Actor) error {
	d, ok := cat.Department(dept)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownDepartment, dept)
	}
	if _, known := cat.Unit(a.Facts.GridID); known && !cat.Serves(dept, a.Facts.GridID) {
		return fmt.Errorf("%w: %s belongs to %s, which does not cover grid %s", ErrOutOfArea, dept, d.OrgUnitID, a.Facts.GridID)
	}
	if !cat.Within(d.OrgUnitID, by.OrgUnitID) && !cat.Within(by.OrgUnitID, d.OrgUnitID) {
		return fmt.Errorf("%w: %s belongs to %s, outside your area %s", ErrOutOfArea, dept, d.OrgUnitID, by.OrgUnitID)
	}
	return nil
}
