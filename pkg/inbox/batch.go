package inbox

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// HandleBatch is a bus.BatchHandler: it applies the batch in one
// transaction, so a batch costs one commit — or, with Partitions > 1, in one
// transaction per partition, the partitions side by side. It first applies
// the batch straight in that transaction (set-based with ApplySet when the
// processor has one); should any event fail or have to wait, it rolls that
// attempt back and applies the batch again with one savepoint per event, so
// that an event that fails or must wait rolls back only its own work. If
// the commit itself fails, every event of the batch is retried (none of them
// took effect) — or waits, when the database is down.
func (p *Processor) HandleBatch(ctx context.Context, batch []bus.Delivery) []error {
	errs := make([]error, len(batch))
	evs := make([]*whistlev1.Event, len(batch))
	for i, d := range batch {
		evs[i], errs[i] = decode(d.Msg)
	}
	outcomes := make([]string, len(batch))
	parts := p.partition(evs)
	whole := make([]bool, len(parts))
	var wg sync.WaitGroup
	for k, idx := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			whole[k] = len(idx) > 1 && p.applyAll(ctx, subset{batch: batch, evs: evs, errs: errs, outcomes: outcomes, idx: idx})
		}()
	}
	wg.Wait()
	// The parts that could not be applied whole go event by event, one part
	// after another once the others are done: applied event by event, a
	// part takes its locks in event order, which could deadlock with a part
	// applied whole.
	for k, idx := range parts {
		if !whole[k] {
			p.applyEach(ctx, subset{batch: batch, evs: evs, errs: errs, outcomes: outcomes, idx: idx})
		}
	}
	for i, d := range batch {
		errs[i] = p.finish(d.Ctx, evs[i], outcomes[i], errs[i])
	}
	return errs
}

// partition splits the batch's indexes by ticket into at most Partitions
// parts, in batch order within each: all events of a ticket land in one part,
// so each ticket's events still apply in order.
func (p *Processor) partition(evs []*whistlev1.Event) [][]int {
	n := max(p.Partitions, 1)
	parts := make([][]int, n)
	for i, ev := range evs {
		k := 0
		if n > 1 {
			h := fnv.New32a()
			_, _ = h.Write([]byte(ev.GetTicketId()))
			k = int(h.Sum32() % uint32(n))
		}
		parts[k] = append(parts[k], i)
	}
	out := parts[:0]
	for _, part := range parts {
		if len(part) > 0 {
			out = append(out, part)
		}
	}
	return out
}

// subset is the part of a batch one transaction applies: the indexes into
// the batch's slices, which it alone writes at those indexes.
type subset struct {
	batch    []bus.Delivery
	evs      []*whistlev1.Event
	errs     []error
	outcomes []string
	idx      []int
}

// errSomeFailed rolls back a batch that could not be applied whole.
var errSomeFailed = errors.New("an event of the batch failed or must wait")

// applyAll applies every decodable event of the part in one transaction
// without savepoints, and reports whether that worked for all of them and
// committed; if not, nothing of it took effect.
func (p *Processor) applyAll(ctx context.Context, s subset) bool {
	got := map[int]string{}
	err := p.DB.InTx(ctx, func(txctx context.Context, tx pgx.Tx) error {
		if p.ApplySet != nil {
			return p.applySet(txctx, tx, s, got)
		}
		for _, i := range s.idx {
			if s.errs[i] != nil {
				continue
			}
			outcome, err := p.apply(postgres.WithTxOf(s.batch[i].Ctx, txctx), tx, s.evs[i])
			if err != nil {
				return errSomeFailed
			}
			got[i] = outcome
		}
		return nil
	})
	if err != nil {
		return false
	}
	for i, o := range got {
		s.outcomes[i] = o
	}
	return true
}

// applySet records the part's events in the inbox with one statement,
// applies those it had not seen with ApplySet, and marks the stale ones with
// one more.
func (p *Processor) applySet(ctx context.Context, tx pgx.Tx, s subset, got map[int]string) error {
	var ids []string
	for _, i := range s.idx {
		if s.errs[i] == nil {
			ids = append(ids, s.evs[i].GetEventId())
		}
	}
	rows, err := tx.Query(ctx, `INSERT INTO inbox (consumer, event_id, outcome)
		SELECT $1, id, $3 FROM unnest($2::uuid[]) AS id ON CONFLICT DO NOTHING RETURNING event_id::text`,
		p.Consumer, ids, OutcomeApplied)
	if err != nil {
		return fmt.Errorf("record %d events in the inbox: %w", len(ids), err)
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("record %d events in the inbox: %w", len(ids), err)
	}
	isFresh := make(map[string]bool, len(fresh))
	for _, id := range fresh {
		isFresh[id] = true
	}
	var items []Item
	var at []int
	for _, i := range s.idx {
		if s.errs[i] != nil {
			continue
		}
		if !isFresh[s.evs[i].GetEventId()] {
			got[i] = OutcomeDuplicate
			continue
		}
		delete(isFresh, s.evs[i].GetEventId()) // a second delivery in the same batch is a duplicate
		items = append(items, Item{Ctx: postgres.WithTxOf(s.batch[i].Ctx, ctx), Event: s.evs[i]})
		at = append(at, i)
	}
	if len(items) == 0 {
		return nil
	}
	decisions, err := p.ApplySet(ctx, items)
	if err != nil || len(decisions) != len(items) {
		if p.Log != nil {
			p.Log.DebugContext(ctx, "a batch could not be applied set-based; applying it event by event",
				"consumer", p.Consumer, "events", len(items), "err", err)
		}
		return errSomeFailed
	}
	var stale []string
	for k, d := range decisions {
		switch d {
		case ticket.Apply:
			got[at[k]] = OutcomeApplied
		case ticket.Stale:
			got[at[k]] = OutcomeStale
			stale = append(stale, items[k].Event.GetEventId())
		default:
			return errSomeFailed
		}
	}
	if len(stale) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE inbox SET outcome = $3 WHERE consumer = $1 AND event_id = ANY($2::uuid[])`,
			p.Consumer, stale, OutcomeStale); err != nil {
			return fmt.Errorf("mark %d stale events: %w", len(stale), err)
		}
	}
	return nil
}

// applyEach applies the part in one transaction, one savepoint per event.
func (p *Processor) applyEach(ctx context.Context, s subset) {
	err := p.DB.InTx(ctx, func(txctx context.Context, _ pgx.Tx) error {
		for _, i := range s.idx {
			if s.errs[i] != nil {
				continue
			}
			err := p.DB.InSavepoint(postgres.WithTxOf(s.batch[i].Ctx, txctx), func(ctx context.Context, tx pgx.Tx) (err error) {
				s.outcomes[i], err = p.apply(ctx, tx, s.evs[i])
				return err
			})
			s.outcomes[i], s.errs[i] = settled(s.outcomes[i], err)
		}
		return nil
	})
	for _, i := range s.idx {
		if err != nil && s.errs[i] == nil && s.outcomes[i] != OutcomeLater {
			s.outcomes[i], s.errs[i] = settled("", fmt.Errorf("commit a batch of %d events: %w", len(s.idx), err))
		}
	}
}

// decode reads a message's event, or says why it is poison.
func decode(m *bus.Message) (*whistlev1.Event, error) {
	ev, err := events.Decode(m.Data)
	if err != nil {
		return nil, bus.Poison(err)
	}
	if typ := events.TypeOf(ev); typ != m.EventType {
		return nil, bus.Poison(fmt.Errorf("event %s is a %s event but came on %s", ev.GetEventId(), typ, m.Subject))
	}
	return ev, nil
}
