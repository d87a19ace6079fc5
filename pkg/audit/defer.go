package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/postgres"
)

// entriesKey names a transaction's audit entries waiting for its commit.
type entriesKey struct{}

// Defer is Record for a change whose transaction may carry many: e is made
// now (the caller, address and trace ctx carries) and written just before
// the transaction commits, with every other entry deferred in it, by one
// statement. Outside a transaction begun by postgres.DB.InTx it is written
// at once. An entry deferred in a savepoint that rolls back is dropped.
func Defer(ctx context.Context, tx pgx.Tx, e Entry) error {
	args, err := values(ctx, e)
	if err != nil {
		return err
	}
	return postgres.Defer(ctx, tx, entriesKey{}, args, writeEntries)
}

// writeEntries inserts deferred entries (each values' arguments) at once.
func writeEntries(ctx context.Context, tx pgx.Tx, entries [][]any) error {
	n := len(entries)
	subject, org, roles, via, action := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ticket, event, detail, remote, trace := make([]*string, n), make([]*string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, a := range entries {
		r, err := json.Marshal(a[2]) // a list of roles a row: unnest takes no array of arrays of other lengths
		if err != nil {
			return err
		}
		subject[i], org[i], roles[i], via[i], action[i] = a[0].(string), a[1].(string), string(r), a[3].(string), a[4].(string)
		ticket[i], event[i], detail[i], remote[i], trace[i] = optional(a[5]), optional(a[6]), a[7].(string), a[8].(string), a[9].(string)
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit (subject, org_unit_id, roles, via, action, ticket_id, event_id, detail, remote_addr, trace_id)
		SELECT s, o, ARRAY(SELECT jsonb_array_elements_text(r)), v, a, t, e, d, ra, tr
		FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::uuid[], $7::uuid[], $8::text[], $9::text[], $10::text[])
			AS u(s, o, r, v, a, t, e, d, ra, tr)`,
		subject, org, roles, via, action, ticket, event, detail, remote, trace)
	if err != nil {
		return fmt.Errorf("audit: record %d entries: %w", n, err)
	}
	return nil
}

func optional(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}
