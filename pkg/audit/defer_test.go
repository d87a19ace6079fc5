package audit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// TestDeferWritesEveryEntryAtCommit: entries deferred by callers sharing a
// transaction are all written, each with its own caller, in the order
// deferred, by the commit; one deferred in a savepoint that rolls back is
// dropped; a transaction that rolls back leaves none.
func TestDeferWritesEveryEntryAtCommit(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "response", nil)
	admin := auth.Principal{Subject: "admin-1", OrgUnit: "hh", Roles: []auth.Role{auth.RoleAdmin}, Via: "mtls"}
	ticketID, eventID := ids.New(), ids.New()
	boom := errors.New("boom")
	err := db.InTx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		if err := audit.Defer(postgresTx(ctx, asCaller(handler)), tx, audit.Entry{Action: "accepted", TicketID: ticketID, EventID: eventID}); err != nil {
			return err
		}
		_ = db.InSavepoint(ctx, func(ctx context.Context, tx pgx.Tx) error {
			if err := audit.Defer(ctx, tx, audit.Entry{Action: "rolled.back"}); err != nil {
				return err
			}
			return boom
		})
		return audit.Defer(postgresTx(ctx, asCaller(admin)), tx, audit.Entry{Action: "catalog.activate", Detail: "2027.01"})
	})
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, db) // newest first
	if len(got) != 2 {
		t.Fatalf("%d rows, want the 2 not rolled back: %+v", len(got), got)
	}
	want := []audit.Row{
		{Service: "response", Subject: "admin-1", OrgUnit: "hh", Roles: []string{"admin"}, Via: "mtls", Action: "catalog.activate",
			Detail: "2027.01", RemoteAddr: "192.0.2.7:51234", TraceID: traceID.String()},
		{Service: "response", Subject: "u-4711", OrgUnit: "xc-water", Roles: []string{"department_handler", "department_lead"},
			Via: "jwt", Action: "accepted", TicketID: ticketID, EventID: eventID, RemoteAddr: "192.0.2.7:51234", TraceID: traceID.String()},
	}
	for i := range want {
		want[i].ID, want[i].At = got[i].ID, got[i].At
		if !equalRow(got[i], want[i]) {
			t.Errorf("row %d %+v, want %+v", i, got[i], want[i])
		}
	}
	err = db.InTx(asCaller(handler), func(ctx context.Context, tx pgx.Tx) error {
		if err := audit.Defer(ctx, tx, audit.Entry{Action: "resolved"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || len(rows(t, db)) != 2 {
		t.Fatalf("a rolled-back transaction: %v, %d rows", err, len(rows(t, db)))
	}
}

// postgresTx returns caller's context (principal, peer, span) joined to the
// transaction txCtx carries, as a group commit joins its callers.
func postgresTx(txCtx, caller context.Context) context.Context {
	return postgres.WithTxOf(caller, txCtx)
}
