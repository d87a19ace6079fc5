// Package outbox is the transactional outbox: Append writes events in the same
// transaction as the state change they announce, and a Relay publishes what
// was committed to JetStream, exactly once in effect.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// MaxEventSize is the most bytes an encoded event may take: 960 KiB, so that
// with its headers (trace context, message id, a dead letter's reason) it fits
// in one message of NATS's default max_payload (1 MiB), and a dead letter
// holds it whole. The largest event a request within the API's bounds makes
// is about 100 KB (a resolution with 20 attachments); only a catalog's org
// tree comes near the limit.
const MaxEventSize = 960 << 10

// ErrEventTooLarge is wrapped by Append's error for an event larger than
// MaxEventSize: the change would commit an event no relay could publish.
var ErrEventTooLarge = apperr.New(apperr.InvalidArgument,
	"the change would announce an event larger than an event may be; nothing was changed: make the request smaller")

// Append writes evs to the outbox of the schema q is bound to, with ctx's
// trace context, so the events' consumers continue the same trace. Call it
// inside the transaction that makes the change the events announce; if that
// transaction rolls back, the events never leave. An event larger than
// MaxEventSize fails it with ErrEventTooLarge (InvalidArgument), before
// anything is written, so the use case fails cleanly.
//
// When ctx carries an authenticated caller (auth.Principal), Append also
// records each event in the audit log (pkg/audit: action = the event type),
// in the same transaction, so every change made through the API is audited
// atomically with it. Changes made by event consumers carry no principal and
// are not audited; the ticket's timeline has them.
func Append(ctx context.Context, q postgres.Querier, evs ...*whistlev1.Event) error {
	if len(evs) == 0 {
		return nil
	}
	headers, err := json.Marshal(telemetry.Inject(ctx))
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	for _, ev := range evs {
		typ := events.TypeOf(ev)
		if typ == "" {
			return fmt.Errorf("outbox: event %s has no body", ev.GetEventId())
		}
		payload, err := proto.Marshal(ev)
		if err != nil {
			return fmt.Errorf("outbox: encode %s event: %w", typ, err)
		}
		if len(payload) > MaxEventSize {
			return fmt.Errorf("outbox: %s event %s is %d bytes, more than the %d an event may take: %w",
				typ, ev.GetEventId(), len(payload), MaxEventSize, ErrEventTooLarge)
		}
		b.Queue(`INSERT INTO outbox (event_id, event_type, payload, headers) VALUES ($1, $2, $3, $4)`,
			ev.GetEventId(), typ, payload, headers)
	}
	if _, ok := auth.FromContext(ctx); ok {
		for _, ev := range evs {
			err := audit.Queue(ctx, b, audit.Entry{Action: events.TypeOf(ev), TicketID: ev.GetTicketId(), EventID: ev.GetEventId()})
			if err != nil {
				return err
			}
		}
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("outbox: append %d events: %w", len(evs), err)
	}
	return wakeRelay(ctx, q)
}

// wakeRelay has the schema's relays woken once the transaction commits (on
// channel "<schema>_outbox", sent after the commit: see postgres.Notify).
func wakeRelay(ctx context.Context, q postgres.Querier) error {
	if schema := postgres.SchemaOf(ctx); schema != "" {
		return postgres.Notify(ctx, q, Channel(schema), "")
	}
	// A transaction not begun by postgres.DB.InTx: notify within it.
	_, err := q.Exec(ctx, `SELECT pg_notify(current_schema() || '_outbox', '')`)
	return err
}

// Channel is the LISTEN/NOTIFY channel that wakes the relays of schema.
func Channel(schema string) string { return schema + "_outbox" }
