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
	return AppendSet(ctx, q, []Entry{{Ctx: ctx, Events: evs}})
}

// Entry is events to append with the context they were made in: its trace
// continues in their consumers, and its caller, if any, is audited.
type Entry struct {
	Ctx    context.Context
	Events []*whistlev1.Event
}

// AppendSet is Append for the events of many changes made in one
// transaction (a batch an event consumer applies at once): every event is
// written with one statement, in order, each with its own entry's trace
// context, and audited as Append audits it when its entry's context carries
// a caller. Nothing is written when any event is too large or has no body.
func AppendSet(ctx context.Context, q postgres.Querier, entries []Entry) error {
	var ids, types []string
	var payloads, headers [][]byte
	b := &pgx.Batch{}
	for _, e := range entries {
		if len(e.Events) == 0 {
			continue
		}
		h, err := json.Marshal(telemetry.Inject(e.Ctx))
		if err != nil {
			return err
		}
		for _, ev := range e.Events {
			typ, payload, err := encode(ev)
			if err != nil {
				return err
			}
			ids, types, payloads, headers = append(ids, ev.GetEventId()), append(types, typ), append(payloads, payload), append(headers, h)
		}
		if err := recordAudit(e.Ctx, q, b, e.Events); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return nil
	}
	b.Queue(`INSERT INTO outbox (event_id, event_type, payload, headers)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::jsonb[])`, ids, types, payloads, headers)
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("outbox: append %d events: %w", len(ids), err)
	}
	return wakeRelay(ctx, q)
}

// encode returns an event's type and wire form, refusing one without a body
// or larger than MaxEventSize.
func encode(ev *whistlev1.Event) (string, []byte, error) {
	typ := events.TypeOf(ev)
	if typ == "" {
		return "", nil, fmt.Errorf("outbox: event %s has no body", ev.GetEventId())
	}
	payload, err := proto.Marshal(ev)
	if err != nil {
		return "", nil, fmt.Errorf("outbox: encode %s event: %w", typ, err)
	}
	if len(payload) > MaxEventSize {
		return "", nil, fmt.Errorf("outbox: %s event %s is %d bytes, more than the %d an event may take: %w",
			typ, ev.GetEventId(), len(payload), MaxEventSize, ErrEventTooLarge)
	}
	return typ, payload, nil
}

// recordAudit records the audit rows of evs when ctx carries a caller:
// deferred to the commit of q's transaction (one statement for every call a
// group commit joins, see audit.Defer), else in b.
func recordAudit(ctx context.Context, q postgres.Querier, b *pgx.Batch, evs []*whistlev1.Event) error {
	if _, ok := auth.FromContext(ctx); !ok {
		return nil
	}
	tx, inTx := q.(pgx.Tx)
	for _, ev := range evs {
		e := audit.Entry{Action: events.TypeOf(ev), TicketID: ev.GetTicketId(), EventID: ev.GetEventId()}
		var err error
		if inTx {
			err = audit.Defer(ctx, tx, e)
		} else {
			err = audit.Queue(ctx, b, e)
		}
		if err != nil {
			return err
		}
	}
	return nil
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
