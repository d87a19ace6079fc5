// Package audit keeps the append-only audit log: who changed what through the
// API, acting for which org unit, when, from which address and in which trace.
//
// Each service has a table audit in its own schema (a platform migration of
// pkg/postgres); triggers refuse to update, delete or truncate its rows. Record
// writes an entry in the transaction that makes the change, so a change and
// its entry commit or vanish together; pkg/outbox records one for every event
// appended on behalf of an authenticated caller. A Reader lists the entries of
// several services' schemas as one log, and RegisterServer serves it as the
// AuditService.
package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/peer"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Entry is what a change was. Who made it, from where and in which trace
// come from the context it is recorded in.
type Entry struct {
	// Action names the change: an event type ("accepted") or an operation
	// ("catalog.activate"). Required.
	Action string
	// TicketID is the ticket changed (a UUID), if any.
	TicketID string
	// EventID is the event that announces the change (a UUID), if any.
	EventID string
	// Detail says more, in words; optional.
	Detail string
}

const insertSQL = `INSERT INTO audit (subject, org_unit_id, roles, via, action, ticket_id, event_id, detail, remote_addr, trace_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// Record adds e to the audit log of the schema q is bound to. Call it with the
// transaction that makes the change, so that a rollback takes the entry with
// it. The caller is the principal ctx carries (auth.FromContext); without one
// the subject, org unit, roles and via stay empty, meaning Whistle itself. The
// remote address is the gRPC peer's, the trace id the span's in ctx.
func Record(ctx context.Context, q postgres.Querier, e Entry) error {
	args, err := values(ctx, e)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, insertSQL, args...); err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// Queue is Record for a caller that sends its statements in a batch: it adds
// e's insert to b, to run in the transaction b is sent in.
func Queue(ctx context.Context, b *pgx.Batch, e Entry) error {
	args, err := values(ctx, e)
	if err != nil {
		return err
	}
	b.Queue(insertSQL, args...)
	return nil
}

// values returns the insert's arguments for e, made in ctx.
func values(ctx context.Context, e Entry) ([]any, error) {
	if e.Action == "" {
		return nil, errors.New("audit: an entry needs an action")
	}
	p, _ := auth.FromContext(ctx)
	roles := make([]string, 0, len(p.Roles)) // never nil: the column is NOT NULL
	for _, r := range p.Roles {
		roles = append(roles, string(r))
	}
	var remote string
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		remote = pr.Addr.String()
	}
	return []any{p.Subject, p.OrgUnit, roles, p.Via, e.Action, nullable(e.TicketID), nullable(e.EventID),
		e.Detail, remote, telemetry.TraceID(ctx)}, nil
}

// nullable turns an empty id into NULL.
func nullable(id string) any {
	if id == "" {
		return nil
	}
	return id
}

// RecordCall is Record for a change that needs no audit entry when Whistle
// makes it by itself (at start, from an event): it records only when ctx
// carries a principal, as outbox.Append does for events.
func RecordCall(ctx context.Context, q postgres.Querier, e Entry) error {
	if _, ok := auth.FromContext(ctx); !ok {
		return nil
	}
	return Record(ctx, q, e)
}
