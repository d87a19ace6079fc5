package response

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	eventinbox "github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Apply exposes the consumer's effects to the tests, routed by event type
// as the service's consumer routes them.
func Apply(s *Service) func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
	return s.consumer().Apply
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

// Consumer exposes the service's consumer.
func Consumer(s *Service) platform.Consumer { return s.consumer() }

// ApplySet exposes the consumer's batch effect to the tests.
func ApplySet(s *Service) eventinbox.SetFunc { return s.consumer().ApplySet }
