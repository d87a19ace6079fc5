package response

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Apply exposes the consumers' effects to the tests, by event type.
func Apply(s *Service) func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
	return func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
		switch events.TypeOf(ev) {
		case events.Dispatched, events.Arbitrated:
			return s.applyDispatched(ctx, ev)
		case events.Escalated, events.Rescheduled, events.ExtensionDecided:
			return s.applySupervision(ctx, ev)
		case events.Reopened:
			return s.applyReopened(ctx, ev)
		default:
			return s.applyFinished(ctx, ev)
		}
	}
}

// ChangeLog exposes the inbox change log to the tests: Write logs one change
// to dept's inbox in the transaction ctx carries, Sequence numbers what
// committed, Changes reads a department's numbered changes.
type ChangeLog struct{ s *store }

// ChangeLogOf returns svc's change log.
func ChangeLogOf(svc *Service) ChangeLog { return ChangeLog{svc.store.(*store)} }

func (c ChangeLog) Write(ctx context.Context, dept, ticketID string) error {
	return c.s.db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return writeChanges(ctx, tx, []pendingChange{{dept: dept, ticketID: ticketID, kind: changeUpsert, item: []byte{}, at: time.Now()}})
	})
}

func (c ChangeLog) Sequence(ctx context.Context) (int, []string, error) { return c.s.Sequence(ctx) }

func (c ChangeLog) Changes(ctx context.Context, dept string) ([]Change, error) {
	return c.s.Changes(ctx, dept, 0, 1000)
}
