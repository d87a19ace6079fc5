package dispatch

import (
	"context"
	"time"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Assignment is dispatch's record of a ticket: how it was routed and where
// it stands.
type Assignment struct {
	TicketID, Number string
	Status           ticket.Status
	Version          int64
	Facts            Facts
	Synthetic        bool
	Lead             string
	Assisting        []string
	AcceptDue        time.Time
	ResolveDue       time.Time
	CatalogVersion   string
	Rule             string
	TriageOrgUnit    string
	// TraceParent is the ticket's own trace.
	TraceParent string
	// Snapshot is the ticket as reported, encoded by the event adapter and
	// passed on in dispatched and triaged events; routing never reads it.
	Snapshot []byte
	// UpdatedAt is when dispatch last changed the record.
	UpdatedAt time.Time
}

// assignments is what the use cases need from storage: Update locks a
// ticket's assignment (zero if new), lets fn change it and saves it with the
// event announcing the action fn returns ("" for none), atomically.
type assignments interface {
	Update(ctx context.Context, ticketID string, fn func(a *Assignment) (ticket.Action, error)) error
	Get(ctx context.Context, ticketID string) (Assignment, error)
}

// apply moves the assignment by action to version+1 and records route r.
func (a *Assignment) apply(action ticket.Action, r Route, catalogVersion string, now time.Time) error {
	next, err := ticket.Next(a.Status, action)
	if err != nil {
		return err
	}
	a.Status, a.Version, a.UpdatedAt = next, a.Version+1, now
	a.CatalogVersion, a.Rule = catalogVersion, r.Rule
	a.TriageOrgUnit, a.Lead, a.Assisting = r.TriageOrgUnit, r.Lead, r.Assisting
	a.AcceptDue, a.ResolveDue = r.AcceptDue, r.ResolveDue
	return nil
}
