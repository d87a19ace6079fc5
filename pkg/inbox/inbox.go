// Package inbox makes event consumers idempotent and ordered per ticket. A
// Processor records each event it handles in the inbox table in the same
// transaction as the handler's effect, so an event delivered twice changes
// nothing the second time, and it applies the ticket-version rule the handler
// reports (pkg/ticket.Order): stale events are acknowledged and ignored,
// events from the future wait.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// ApplyFunc applies one event inside the inbox transaction (carried by ctx;
// postgres.DB.InTx joins it) and says what it decided. Returning ticket.Later
// rolls the transaction back and retries the event after a delay; an error
// rolls back and retries with backoff, then dead-letters.
type ApplyFunc func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error)

// Item is one event of a batch with the context it was delivered in (its
// trace), joined to the batch's transaction.
type Item struct {
	Ctx   context.Context
	Event *whistlev1.Event
}

// SetFunc applies a batch of events the inbox has not seen, in order, inside
// the inbox transaction ctx carries, with a fixed number of statements for
// the batch rather than per event, and returns one decision per item (Apply
// or Stale). An error, a missing decision or a ticket.Later rolls the batch
// back; it is then applied event by event with the Processor's Apply, whose
// rules it must share.
type SetFunc func(ctx context.Context, items []Item) ([]ticket.Decision, error)

// Processor is an idempotent event handler for one consumer.
type Processor struct {
	// DB holds the inbox table (the service's schema).
	DB *postgres.DB
	// Consumer names the consumer in the inbox, e.g. "dispatch".
	Consumer string
	// Apply is the effect of one event.
	Apply ApplyFunc
	// ApplySet, when set, is the same effect applied to a whole batch at
	// once; Apply remains for batches it cannot take whole. Default: none
	// (each event of a batch goes through Apply).
	ApplySet SetFunc
	// Partitions splits each batch by ticket into up to this many parts,
	// applied side by side, each in a transaction of its own; a ticket's
	// events stay in one part, in order. The effect must then be safe to run
	// concurrently for different tickets. Default 1.
	Partitions int
	// Telemetry for metrics. Default: none.
	Telemetry *telemetry.Telemetry
	// Log receives decisions at debug level. Default: discard.
	Log *slog.Logger

	once     sync.Once
	outcomes metric.Int64Counter
}

// Outcomes of handling an event, as recorded in metrics.
const (
	OutcomeApplied   = "applied"
	OutcomeStale     = "stale"
	OutcomeDuplicate = "duplicate"
	OutcomeLater     = "later"
)

var errLater = errors.New("later")

// Handle is a bus.Handler: it handles one message in a transaction of its own.
func (p *Processor) Handle(ctx context.Context, m *bus.Message) error {
	ev, err := decode(m)
	if err != nil {
		return err
	}
	outcome, err := p.process(ctx, ev)
	return p.finish(ctx, ev, outcome, err)
}

// finish counts the outcome of handling ev and turns it into the bus's answer.
func (p *Processor) finish(ctx context.Context, ev *whistlev1.Event, outcome string, err error) error {
	if ev == nil {
		return err // poison: never reached the database
	}
	p.count(ctx, outcome)
	if outcome == OutcomeLater {
		return bus.ErrLater
	}
	if err != nil {
		return fmt.Errorf("%s: %s event %s for ticket %s v%d: %w", p.Consumer, events.TypeOf(ev), ev.GetEventId(),
			ev.GetTicketId(), ev.GetTicketVersion(), err)
	}
	if p.Log != nil {
		p.Log.DebugContext(ctx, "event handled", "consumer", p.Consumer, "event", events.TypeOf(ev),
			"ticket", ev.GetTicketId(), "version", ev.GetTicketVersion(), "outcome", outcome)
	}
	return nil
}

// Process handles a decoded event and returns the outcome. It is Handle
// without the message plumbing, for tests and replays.
func (p *Processor) Process(ctx context.Context, ev *whistlev1.Event) (string, error) {
	return p.process(ctx, ev)
}

func (p *Processor) process(ctx context.Context, ev *whistlev1.Event) (string, error) {
	outcome := ""
	err := p.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) (err error) {
		outcome, err = p.apply(ctx, tx, ev)
		return err
	})
	return settled(outcome, err)
}

// apply records ev in the inbox and applies it, in the transaction tx.
func (p *Processor) apply(ctx context.Context, tx pgx.Tx, ev *whistlev1.Event) (string, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO inbox (consumer, event_id, outcome) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, p.Consumer, ev.GetEventId(), OutcomeApplied)
	if err != nil {
		return "", fmt.Errorf("record in inbox: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return OutcomeDuplicate, nil
	}
	d, err := p.Apply(ctx, ev)
	if err != nil {
		return "", err
	}
	switch d {
	case ticket.Apply:
		return OutcomeApplied, nil
	case ticket.Stale:
		_, err = tx.Exec(ctx, `UPDATE inbox SET outcome = $3 WHERE consumer = $1 AND event_id = $2`,
			p.Consumer, ev.GetEventId(), OutcomeStale)
		return OutcomeStale, err
	case ticket.Later:
		return OutcomeLater, errLater
	default:
		return "", fmt.Errorf("apply returned no decision")
	}
}

// settled reads the end of a transaction: an event that must wait, or whose
// database is down or lost a race with another transaction, waits like an
// early one (its waits do not count as failures) instead of dead-lettering.
func settled(outcome string, err error) (string, error) {
	if errors.Is(err, errLater) || postgres.IsUnavailable(err) || postgres.IsConflict(err) {
		return OutcomeLater, nil
	}
	if err != nil {
		return "", err
	}
	return outcome, nil
}

func (p *Processor) count(ctx context.Context, outcome string) {
	if outcome == "" {
		return
	}
	p.once.Do(func() {
		tel := p.Telemetry
		if tel == nil {
			tel = telemetry.Noop()
		}
		p.outcomes, _ = tel.Meter.Meter("whistle/inbox").Int64Counter("whistle.inbox.events",
			metric.WithDescription("Events seen by an idempotent consumer, by outcome (applied, stale, duplicate, later)"))
	})
	p.outcomes.Add(ctx, 1, metric.WithAttributes(attribute.String("consumer", p.Consumer), attribute.String("outcome", outcome)))
}
