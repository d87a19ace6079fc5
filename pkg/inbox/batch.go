package inbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// HandleBatch is a bus.BatchHandler: it applies the batch in one
// transaction, so a batch costs one commit. It first applies every event
// straight in that transaction; should any of them fail or have to wait, it
// rolls that attempt back and applies the batch again with one savepoint per
// event, so that an event that fails or must wait rolls back only its own
// work. If the commit itself fails, every event of the batch is retried (none
// of them took effect) — or waits, when the database is down.
func (p *Processor) HandleBatch(ctx context.Context, batch []bus.Delivery) []error {
	errs := make([]error, len(batch))
	evs := make([]*whistlev1.Event, len(batch))
	for i, d := range batch {
		evs[i], errs[i] = decode(d.Msg)
	}
	outcomes := make([]string, len(batch))
	if len(batch) == 1 || !p.applyAll(ctx, batch, evs, errs, outcomes) {
		p.applyEach(ctx, batch, evs, errs, outcomes)
	}
	for i, d := range batch {
		errs[i] = p.finish(d.Ctx, evs[i], outcomes[i], errs[i])
	}
	return errs
}

// errSomeFailed rolls back a batch that could not be applied whole.
var errSomeFailed = errors.New("an event of the batch failed or must wait")

// applyAll applies every decodable event of the batch in one transaction
// without savepoints, and reports whether that worked for all of them and
// committed; if not, nothing of it took effect.
func (p *Processor) applyAll(ctx context.Context, batch []bus.Delivery, evs []*whistlev1.Event, errs []error, outcomes []string) bool {
	got := make([]string, len(batch))
	err := p.DB.InTx(ctx, func(txctx context.Context, tx pgx.Tx) error {
		for i, d := range batch {
			if errs[i] != nil {
				continue
			}
			outcome, err := p.apply(postgres.WithTxOf(d.Ctx, txctx), tx, evs[i])
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
	copy(outcomes, got)
	return true
}

// applyEach applies the batch in one transaction, one savepoint per event.
func (p *Processor) applyEach(ctx context.Context, batch []bus.Delivery, evs []*whistlev1.Event, errs []error, outcomes []string) {
	err := p.DB.InTx(ctx, func(txctx context.Context, _ pgx.Tx) error {
		for i, d := range batch {
			if errs[i] != nil {
				continue
			}
			err := p.DB.InSavepoint(postgres.WithTxOf(d.Ctx, txctx), func(ctx context.Context, tx pgx.Tx) (err error) {
				outcomes[i], err = p.apply(ctx, tx, evs[i])
				return err
			})
			outcomes[i], errs[i] = settled(outcomes[i], err)
		}
		return nil
	})
	for i := range batch {
		if err != nil && errs[i] == nil && outcomes[i] != OutcomeLater {
			outcomes[i], errs[i] = settled("", fmt.Errorf("commit a batch of %d events: %w", len(batch), err))
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
