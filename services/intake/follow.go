package intake

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// followed are the transitions other services make that intake follows, to
// offer only open tickets as duplicates and show their status.
var followed = []string{events.Triaged, events.Dispatched, events.Arbitrated, events.Accepted, events.Returned,
	events.Resolved, events.Reopened, events.Closed, events.Merged, events.Cancelled}

// StatusChange is a transition made elsewhere: the ticket's status and the
// version it produced.
type StatusChange struct {
	TicketID string
	Status   ticket.Status
	Version  int64
}

// duplicateStore is what duplicates and following need from storage.
type duplicateStore interface {
	// Nearby returns open tickets matching q, with their places.
	Nearby(ctx context.Context, q NearbyQuery) ([]near, error)
	// Follow records status changes, each only over an older version (in the
	// transaction ctx carries, if any); it returns how many applied.
	Follow(ctx context.Context, cs []StatusChange) (int, error)
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
	if _, err := s.store.Follow(ctx, []StatusChange{changeOf(ev)}); err != nil {
		return 0, fmt.Errorf("follow %s of %s: %w", events.TypeOf(ev), ev.GetTicketId(), err)
	}
	return ticket.Apply, nil
}

// applySet follows a batch of transitions with one statement; a batch that
// holds a proactive event is applied one event at a time.
func (s *Service) applySet(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
	cs := make([]StatusChange, 0, len(items))
	decisions := make([]ticket.Decision, len(items))
	for i, it := range items {
		if events.TypeOf(it.Event) == events.Proactive {
			return nil, fmt.Errorf("intake: a proactive event in a batch is applied on its own")
		}
		cs, decisions[i] = append(cs, changeOf(it.Event)), ticket.Apply
	}
	if _, err := s.store.Follow(ctx, cs); err != nil {
		return nil, fmt.Errorf("intake: follow a batch of %d transitions: %w", len(cs), err)
	}
	return decisions, nil
}

// changeOf reads a transition event.
func changeOf(ev *whistlev1.Event) StatusChange {
	action, _ := events.ActionOf(events.TypeOf(ev))
	return StatusChange{TicketID: ev.GetTicketId(), Status: ticket.Target(action), Version: ev.GetTicketVersion()}
}
