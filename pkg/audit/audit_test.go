package audit_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/peer"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	handler = auth.Principal{Subject: "u-4711", OrgUnit: "xc-water",
		Roles: []auth.Role{auth.RoleDepartmentHandler, auth.RoleDepartmentLead}, Via: "jwt"}
	traceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	from    = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 51234}
)

// asCaller returns a context as the API gives it to a use case: with the
// caller's principal, its gRPC peer and the call's span.
func asCaller(p auth.Principal) context.Context {
	ctx := auth.WithPrincipal(context.Background(), p)
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: from})
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled}))
}

func rows(t *testing.T, db *postgres.DB) []audit.Row {
	t.Helper()
	got, _, err := audit.NewReader(db.Pool, db.Schema).List(context.Background(), audit.Filter{PageSize: audit.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRecordWritesInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "response", nil)
	ticketID := ids.New()
	boom := errors.New("boom")
	err := db.InTx(asCaller(handler), func(ctx context.Context, tx pgx.Tx) error {
		if err := audit.Record(ctx, tx, audit.Entry{Action: "accepted", TicketID: ticketID}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if got := rows(t, db); len(got) != 0 {
		t.Fatalf("a rolled-back transaction left audit rows: %+v", got)
	}

	before := time.Now().Add(-time.Second)
	err = db.InTx(asCaller(handler), func(ctx context.Context, tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Entry{Action: "catalog.activate", Detail: "version 2026-11"})
	})
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, db)
	if len(got) != 1 {
		t.Fatalf("%d rows, want 1", len(got))
	}
	r := got[0]
	want := audit.Row{Service: "response", ID: r.ID, At: r.At, Subject: "u-4711", OrgUnit: "xc-water",
		Roles: []string{"department_handler", "department_lead"}, Via: "jwt", Action: "catalog.activate",
		Detail: "version 2026-11", RemoteAddr: "192.0.2.7:51234", TraceID: traceID.String()}
	if !equalRow(r, want) || r.At.Before(before) || r.At.After(time.Now().Add(time.Second)) {
		t.Fatalf("row %+v, want %+v", r, want)
	}
	if err := audit.Record(context.Background(), db.Pool, audit.Entry{}); err == nil {
		t.Fatal("an entry without an action was recorded")
	}
}

func TestRecordWithoutPrincipalRecordsWhistleItself(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "dispatch", nil)
	if err := audit.Record(context.Background(), db.Pool, audit.Entry{Action: "catalog.activate"}); err != nil {
		t.Fatal(err)
	}
	got := rows(t, db)
	if len(got) != 1 || got[0].Subject != "" || len(got[0].Roles) != 0 || got[0].RemoteAddr != "" || got[0].TraceID != "" {
		t.Fatalf("rows %+v", got)
	}
}

func equalRow(a, b audit.Row) bool {
	return a.Service == b.Service && a.ID == b.ID && a.At.Equal(b.At) && a.Subject == b.Subject && a.OrgUnit == b.OrgUnit &&
		slices.Equal(a.Roles, b.Roles) && a.Via == b.Via && a.Action == b.Action && a.TicketID == b.TicketID &&
		a.EventID == b.EventID && a.Detail == b.Detail && a.RemoteAddr == b.RemoteAddr && a.TraceID == b.TraceID
}

func accepted(ticketID string) *whistlev1.Event {
	return events.MustNew(events.Meta{TicketID: ticketID, Version: 3, Producer: "response", OccurredAt: time.Now()},
		&whistlev1.TicketAccepted{})
}

func TestOutboxAppendAuditsCallersChanges(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "response", nil)
	ticketID := ids.New()
	ev := accepted(ticketID)
	if err := db.InTx(asCaller(handler), func(ctx context.Context, tx pgx.Tx) error {
		return outbox.Append(ctx, tx, ev)
	}); err != nil {
		t.Fatal(err)
	}
	got := rows(t, db)
	if len(got) != 1 {
		t.Fatalf("%d audit rows after one event, want 1: %+v", len(got), got)
	}
	want := audit.Row{Service: "response", ID: got[0].ID, At: got[0].At, Subject: "u-4711", OrgUnit: "xc-water",
		Roles: []string{"department_handler", "department_lead"}, Via: "jwt", Action: "accepted", TicketID: ticketID,
		EventID: ev.GetEventId(), RemoteAddr: "192.0.2.7:51234", TraceID: traceID.String()}
	if !equalRow(got[0], want) {
		t.Fatalf("row %+v, want %+v", got[0], want)
	}

	// An event consumer's change carries no principal: outbox only.
	if err := db.InTx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		return outbox.Append(ctx, tx, accepted(ids.New()))
	}); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db); len(got) != 1 {
		t.Fatalf("a change without a principal was audited: %+v", got)
	}
	// The entry goes with its event: a rollback takes both.
	boom := errors.New("boom")
	if err := db.InTx(asCaller(handler), func(ctx context.Context, tx pgx.Tx) error {
		if err := outbox.Append(ctx, tx, accepted(ids.New())); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	var outboxRows int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox").Scan(&outboxRows); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db); len(got) != 1 || outboxRows != 2 {
		t.Fatalf("after a rollback: %d audit rows (want 1), %d outbox rows (want 2)", len(got), outboxRows)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "response", nil)
	ctx := context.Background()
	if err := audit.Record(asCaller(handler), db.Pool, audit.Entry{Action: "accepted", TicketID: ids.New()}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"UPDATE audit SET subject = 'someone-else'",
		"DELETE FROM audit",
		"TRUNCATE audit",
	} {
		_, err := db.Pool.Exec(ctx, stmt)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, "the audit log is append-only") {
			t.Errorf("%s: %v, want the append-only error", stmt, err)
		}
	}
	if got := rows(t, db); len(got) != 1 || got[0].Subject != "u-4711" {
		t.Fatalf("rows after the attempts: %+v", got)
	}
}
