package dispatch

import (
	"context"
	"fmt"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// step is what one event does to its ticket's assignment, given locked: it
// decides whether the event applies now (ticket.Order), changes a if so,
// and returns what dispatch must announce. A step never changes a unless it
// decides Apply.
type step func(a *Assignment) (ticket.Decision, []Announcement, error)

// stepper reads an event into its step; nil means the event needs none.
type stepper func(ctx context.Context, ev *whistlev1.Event) (step, error)

// update applies one step to the assignment of ticketID, locked, in the
// transaction ctx carries or a new one.
func (s *Service) update(ctx context.Context, ticketID string, st step) (ticket.Decision, error) {
	var decision ticket.Decision
	err := s.store.Update(ctx, ticketID, func(a *Assignment) ([]Announcement, error) {
		var anns []Announcement
		var err error
		decision, anns, err = st(a)
		return anns, err
	})
	return decision, err
}

// applyOne applies one event by its stepper.
func (s *Service) applyOne(f stepper) inbox.ApplyFunc {
	return func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
		st, err := f(ctx, ev)
		if err != nil || st == nil {
			return ticket.Apply, err
		}
		decision, err := s.update(ctx, ev.GetTicketId(), st)
		if err != nil {
			return 0, fmt.Errorf("%s of %s: %w", events.TypeOf(ev), ev.GetTicketId(), err)
		}
		return decision, nil
	}
}

// applySet applies a batch of events with the same steps as applyOne and a
// fixed number of statements for the whole batch: the batch's assignments
// are read and locked at once (in ticket order, so partitions applying side
// by side never deadlock), each event's step runs in order on them in
// memory, and what changed is written with one statement for the
// assignments and one for the events announcing it, each event with the
// trace of the event that caused it. Should an event have to wait, the batch
// answers Later and the inbox applies it event by event instead.
func (s *Service) applySet(steppers map[string]stepper) inbox.SetFunc {
	return func(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
		steps, ids, err := stepsOf(steppers, items)
		if err != nil {
			return nil, err
		}
		locked, err := s.store.LockSet(ctx, ids)
		if err != nil {
			return nil, err
		}
		decisions := make([]ticket.Decision, len(items))
		var changed []*Assignment
		var out []outbox.Entry
		for i, st := range steps {
			decisions[i] = ticket.Apply
			if st == nil {
				continue
			}
			id := items[i].Event.GetTicketId()
			a := locked[id]
			if a == nil {
				a = &Assignment{TicketID: id}
				locked[id] = a
			}
			wasDirty := a.dirty
			a.dirty = false
			decision, anns, err := st(a)
			if err != nil {
				return nil, fmt.Errorf("%s of %s: %w", events.TypeOf(items[i].Event), id, err)
			}
			if decisions[i] = decision; decision == ticket.Later {
				return decisions, nil
			}
			if a.dirty {
				if !wasDirty {
					changed = append(changed, a)
				}
				out = append(out, outbox.Entry{Ctx: items[i].Ctx, Events: toEvents(*a, anns)})
			}
			a.dirty = a.dirty || wasDirty
		}
		if err := s.store.SaveSet(ctx, changed, out); err != nil {
			return nil, fmt.Errorf("dispatch a batch of %d events: %w", len(items), err)
		}
		return decisions, nil
	}
}

// stepsOf reads each item into its step and lists the tickets they touch.
func stepsOf(steppers map[string]stepper, items []inbox.Item) ([]step, []string, error) {
	steps := make([]step, len(items))
	seen := map[string]bool{}
	var ids []string
	for i, it := range items {
		f, ok := steppers[events.TypeOf(it.Event)]
		if !ok {
			return nil, nil, fmt.Errorf("no step for %q events", events.TypeOf(it.Event))
		}
		st, err := f(it.Ctx, it.Event)
		if err != nil {
			return nil, nil, err
		}
		steps[i] = st
		if id := it.Event.GetTicketId(); st != nil && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return steps, ids, nil
}
