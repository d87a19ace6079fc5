package response

import (
	"context"
	"fmt"
	"slices"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	eventinbox "github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// step is what one event from elsewhere does to its ticket's item, given
// locked: it decides whether the event applies now (ticket.Order) and
// changes it if so. Events from elsewhere never make the response service
// announce anything.
type step func(it *Item) (ticket.Decision, error)

// stepper reads an event into its step.
type stepper func(ctx context.Context, ev *whistlev1.Event) (step, error)

// update applies one step to the item of ticketID, locked, in the
// transaction ctx carries or a new one.
func (s *Service) update(ctx context.Context, ticketID string, st step) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, ticketID, func(it *Item) (*Announcement, error) {
		var err error
		decision, err = st(it)
		return nil, err
	})
	return decision, err
}

// applyOne applies one event by its stepper.
func (s *Service) applyOne(f stepper) eventinbox.ApplyFunc {
	return func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
		st, err := f(ctx, ev)
		if err != nil {
			return 0, err
		}
		return s.update(ctx, ev.GetTicketId(), st)
	}
}

// applySet applies a batch of events with the same steps as applyOne and a
// fixed number of statements for the whole batch: the batch's items are read
// with their assists and locked at once (in ticket order, so partitions
// applying side by side never deadlock), each event's step runs in order on
// them in memory, and what changed is written with one statement a table
// (SaveSet); each department's inbox logs the item as the batch leaves it.
// Should an event have to wait, the batch answers Later and the inbox
// applies it event by event instead.
func (s *Service) applySet(steppers map[string]stepper) eventinbox.SetFunc {
	return func(ctx context.Context, items []eventinbox.Item) ([]ticket.Decision, error) {
		steps := make([]step, len(items))
		var ids []string
		for i, it := range items {
			f, ok := steppers[events.TypeOf(it.Event)]
			if !ok {
				return nil, fmt.Errorf("no step for %q events", events.TypeOf(it.Event))
			}
			st, err := f(it.Ctx, it.Event)
			if err != nil {
				return nil, err
			}
			steps[i], ids = st, append(ids, it.Event.GetTicketId())
		}
		slices.Sort(ids)
		locked, err := s.store.LockSet(ctx, slices.Compact(ids))
		if err != nil {
			return nil, err
		}
		decisions := make([]ticket.Decision, len(items))
		var changed []*lockedItem
		for i, st := range steps {
			id := items[i].Event.GetTicketId()
			l := locked[id]
			if l == nil {
				l = &lockedItem{before: Item{TicketID: id}, after: Item{TicketID: id}}
				locked[id] = l
			}
			wasDirty := l.after.dirty
			if decisions[i], err = st(&l.after); err != nil {
				return nil, fmt.Errorf("%s of %s: %w", events.TypeOf(items[i].Event), id, err)
			}
			if decisions[i] == ticket.Later {
				return decisions, nil
			}
			if l.after.dirty && !wasDirty {
				changed = append(changed, l)
			}
		}
		if err := s.store.SaveSet(ctx, changed); err != nil {
			return nil, fmt.Errorf("receive a batch of %d events: %w", len(items), err)
		}
		return decisions, nil
	}
}
