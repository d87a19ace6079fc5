package intake

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// followed are the transitions other services make that intake follows, to
// offer only open tickets as duplicates, show their status and know which
// departments may see a ticket's files; progress notes bring evidence too,
// and verdicts the evaluators' photos. A resolved ticket's reporter is sent
// their evaluation code, a closed one's a last word (notice.go).
var followed = []string{events.Triaged, events.Dispatched, events.Arbitrated, events.Accepted, events.Returned,
	events.Resolved, events.Reopened, events.Closed, events.Merged, events.Cancelled, events.Progressed, events.Evaluated}

// StatusChange is a transition made elsewhere: the ticket's status and the
// version it produced.
type StatusChange struct {
	TicketID string
	// Status and Version are zero for an annotation (progress).
	Status  ticket.Status
	Version int64
	// Departments the ticket was assigned to by the change.
	Departments []string
	// Evidence are the files the change attached (media ids), by Unit.
	Evidence []string
	Unit     string
	// At is when the change happened.
	At time.Time
}

// duplicateStore is what duplicates and following need from storage.
type duplicateStore interface {
	// Nearby returns open tickets matching q, with their places.
	Nearby(ctx context.Context, q NearbyQuery) ([]near, error)
	// Follow records changes (in the transaction ctx carries, if any): a
	// status only over an older version, the departments added, the
	// evidence attached.
	Follow(ctx context.Context, cs []StatusChange) error
}

// routes are the consumer's effects: proactive events raise tickets, the
// transitions of other services move their status.
func (s *Service) routes() platform.Routes {
	r := platform.Routes{events.Proactive: s.applyProactive}
	for _, t := range followed {
		r[t] = s.applyFollowed
	}
	return r
}

func (s *Service) applyFollowed(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
	if err := s.store.Follow(ctx, []StatusChange{changeOf(ev)}); err != nil {
		return 0, fmt.Errorf("follow %s of %s: %w", events.TypeOf(ev), ev.GetTicketId(), err)
	}
	if err := s.queueNotices(ctx, noticesOf(ev)); err != nil {
		return 0, fmt.Errorf("notices of %s of %s: %w", events.TypeOf(ev), ev.GetTicketId(), err)
	}
	return ticket.Apply, nil
}

// applySet follows a batch of transitions with one statement; a batch that
// holds a proactive event is applied one event at a time.
func (s *Service) applySet(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
	cs := make([]StatusChange, 0, len(items))
	evs := make([]*whistlev1.Event, len(items))
	decisions := make([]ticket.Decision, len(items))
	for i, it := range items {
		if events.TypeOf(it.Event) == events.Proactive {
			return nil, fmt.Errorf("intake: a proactive event in a batch is applied on its own")
		}
		cs, evs[i], decisions[i] = append(cs, changeOf(it.Event)), it.Event, ticket.Apply
	}
	if err := s.store.Follow(ctx, cs); err != nil {
		return nil, fmt.Errorf("intake: follow a batch of %d transitions: %w", len(cs), err)
	}
	if err := s.queueNotices(ctx, noticesOf(evs...)); err != nil {
		return nil, fmt.Errorf("intake: notices of a batch of %d transitions: %w", len(cs), err)
	}
	return decisions, nil
}

// changeOf reads a transition event, or a progress note.
func changeOf(ev *whistlev1.Event) StatusChange {
	c := StatusChange{TicketID: ev.GetTicketId(), Unit: ev.GetActor().GetOrgUnitId(), At: ev.GetOccurredAt().AsTime()}
	if action, ok := events.ActionOf(events.TypeOf(ev)); ok {
		c.Status, c.Version = ticket.Target(action), ev.GetTicketVersion()
	}
	var files []*whistlev1.Attachment
	switch b := ev.GetBody().(type) {
	case *whistlev1.Event_Dispatched:
		c.Departments = append([]string{b.Dispatched.GetLeadDepartmentId()}, b.Dispatched.GetAssistingDepartmentIds()...)
	case *whistlev1.Event_Arbitrated:
		c.Departments = []string{b.Arbitrated.GetDepartmentId()}
	case *whistlev1.Event_Resolved:
		files = b.Resolved.GetEvidence()
	case *whistlev1.Event_Progressed:
		files = b.Progressed.GetAttachments()
	case *whistlev1.Event_Evaluated:
		files = b.Evaluated.GetAttachments()
	}
	for _, f := range files {
		if f.GetMediaId() != "" {
			c.Evidence = append(c.Evidence, f.GetMediaId())
		}
	}
	return c
}
