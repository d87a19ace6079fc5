package monitoring

import (
	"context"
	"fmt"
	"slices"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// projectSet applies a batch of events to the read models as Project does
// event by event, with a fixed number of statements for the whole batch: the
// tickets' states are read and locked at once, each event is applied in
// order in memory (ticket.Order decides, per ticket, as in Project), and the
// timeline entries, states and figures are written with one statement per
// table, the figures summed per row. Should an event have to wait (a gap in
// its ticket's versions, or a rebuild running), the batch answers Later and
// the inbox applies it event by event instead.
func (s *Service) projectSet(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
	if !replaying(ctx) {
		if err := s.store.Enter(ctx); err != nil {
			return nil, err
		}
	}
	decisions := make([]ticket.Decision, len(items))
	states, err := s.store.LockStates(ctx, ticketIDs(items))
	if err != nil {
		return nil, err
	}
	w := &setWrite{}
	var routed []State
	var links [][2]string
	for i, it := range items {
		id := it.Event.GetTicketId()
		if id == "" {
			decisions[i] = ticket.Apply // proactive events concern no ticket yet
			continue
		}
		life, imported := lifeOf(it.Event)
		if imported && states[id].Version > 0 {
			decisions[i] = ticket.Stale // the ticket is known already: its history was applied
			continue
		}
		for _, ev := range life {
			c := fromEvent(it.Ctx, ev)
			st := states[id]
			decisions[i] = ticket.Order(ticket.Contiguous, st.Version, c.Entry.Version, c.Action != "")
			switch decisions[i] {
			case ticket.Later:
				return decisions, nil
			case ticket.Stale:
				continue
			}
			before := st
			st.TicketID = id
			eff := apply(&st, c, s.loc)
			c.Entry.Status = st.Status
			states[id] = st
			w.add(id, c.Entry, before, st, eff)
			if c.Source == proactiveSource && c.IdempotencyKey != "" {
				links = append(links, [2]string{hotSpotOfKey(c.IdempotencyKey), id})
			}
			if eff.Routed {
				routed = append(routed, st)
			}
		}
	}
	if err := s.store.SaveSet(ctx, w, states); err != nil {
		return nil, fmt.Errorf("project a batch of %d events: %w", len(items), err)
	}
	if err := s.afterSet(ctx, links, routed); err != nil {
		return nil, err
	}
	feed := w.entries
	postgres.AfterCommit(ctx, func() {
		for _, e := range feed {
			s.feed.publish(e.ticketID, e.Entry)
		}
	})
	return decisions, nil
}

// afterSet links proactive tickets to their hot spots and runs the hot spot
// rules for the reports the batch routed, in order (judgeReports). The
// rules' places are locked first, in one order, so that partitions applying
// side by side see each other's reports of the same matter and district and
// never deadlock.
func (s *Service) afterSet(ctx context.Context, links [][2]string, routed []State) error {
	for _, l := range links {
		if err := s.hot.LinkProactive(ctx, l[0], l[1]); err != nil {
			return err
		}
	}
	if err := s.judgeReports(ctx, routed); err != nil {
		return fmt.Errorf("hot spots: %w", err)
	}
	return nil
}

// lifeOf returns the events an event brings: an imported ticket's history
// (imported is set), or the event itself.
func lifeOf(ev *whistlev1.Event) (life []*whistlev1.Event, imported bool) {
	if imp := ev.GetImported(); imp != nil {
		return imp.GetHistory(), true
	}
	return []*whistlev1.Event{ev}, false
}

// ticketIDs returns the distinct tickets of a batch.
func ticketIDs(items []inbox.Item) []string {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		if id := it.Event.GetTicketId(); id != "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// setWrite is what a batch writes: its timeline entries in order, the
// tickets whose state changed, and the changes to the figures.
type setWrite struct {
	entries []setEntry
	changed []string
	status  []statusDelta
	effects Effects
}

type setEntry struct {
	ticketID string
	Entry
}

// statusDelta moves one ticket between the status counts.
type statusDelta struct {
	status    ticket.Status
	synthetic bool
	n         int64
}

func (w *setWrite) add(id string, e Entry, before, after State, eff Effects) {
	w.entries = append(w.entries, setEntry{id, e})
	if !slices.Contains(w.changed, id) {
		w.changed = append(w.changed, id)
	}
	if before.Status != after.Status {
		if before.Status != ticket.StatusUnknown {
			w.status = append(w.status, statusDelta{before.Status, before.Synthetic, -1})
		}
		w.status = append(w.status, statusDelta{after.Status, after.Synthetic, 1})
	}
	w.effects.Counts = append(w.effects.Counts, eff.Counts...)
	w.effects.Samples = append(w.effects.Samples, eff.Samples...)
	w.effects.Live = append(w.effects.Live, eff.Live...)
	w.effects.Categories = append(w.effects.Categories, eff.Categories...)
	w.effects.Units = append(w.effects.Units, eff.Units...)
}
