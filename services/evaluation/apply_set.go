package evaluation

import (
	"context"
	"fmt"
	"slices"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// batchWrite is what a batch of events changes, written by SaveSet: the
// tickets' reporters, areas and merges (the last of each ticket's), the rounds
// opened, the code states that changed, and the events announcing the rounds.
type batchWrite struct {
	reporters map[string]string
	areas     map[string][]string
	merges    map[string]string
	rounds    []Evaluation
	codes     map[string]Evaluation
	events    []outbox.Entry
}

// applySet applies a batch of events with the rules of the consumer's
// effects one at a time and a fixed number of statements for the batch:
// reporters and areas are written with one statement each, the latest
// rounds of the resolved tickets read and locked at once (in ticket order),
// each resolution's step run on them in order in memory, and the rounds
// opened and their evaluation_opened events written with one statement each.
func (s *Service) applySet(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
	w := batchWrite{reporters: map[string]string{}, areas: map[string][]string{}, merges: map[string]string{},
		codes: map[string]Evaluation{}}
	decisions := make([]ticket.Decision, len(items))
	var resolved []int
	var ids []string
	for i, it := range items {
		ev, id := it.Event, it.Event.GetTicketId()
		decisions[i] = ticket.Apply
		switch typ := events.TypeOf(ev); typ {
		case events.Reported:
			w.reporters[id] = ev.GetReported().GetTicket().GetReporter().GetOrgUnitId()
		case events.Dispatched:
			w.areas[id] = ev.GetDispatched().GetAreaIds()
		case events.Merged:
			w.merges[id] = ev.GetMerged().GetOriginalTicketId()
		case events.Resolved:
			resolved, ids = append(resolved, i), append(ids, id)
		default:
			return nil, fmt.Errorf("no effect for %q events", typ)
		}
	}
	slices.Sort(ids)
	latest, err := s.store.LockLatest(ctx, slices.Compact(ids))
	if err != nil {
		return nil, err
	}
	for _, i := range resolved {
		it := items[i]
		id := it.Event.GetTicketId()
		e := latest[id]
		if e == nil {
			e = &Evaluation{TicketID: id}
			latest[id] = e
		}
		before, failures, used := e.Version, e.CodeFailures, e.CodeUsedRound
		decisions[i] = s.openStep(resolutionOf(it.Ctx, it.Event))(e)
		if e.CodeFailures != failures || e.CodeUsedRound != used {
			w.codes[id] = *e
		}
		if e.Version != before {
			w.rounds = append(w.rounds, *e)
			w.events = append(w.events, outbox.Entry{Ctx: it.Ctx, Events: toEvents(*e, "")})
		}
	}
	if err := s.store.SaveSet(ctx, w); err != nil {
		return nil, fmt.Errorf("evaluation: a batch of %d events: %w", len(items), err)
	}
	return decisions, nil
}
