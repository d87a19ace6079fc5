package outbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// tracedContext returns a context whose span is in a trace of its own.
func tracedContext(t *testing.T, traceParent string) context.Context {
	t.Helper()
	ctx := telemetry.Extract(context.Background(), mapCarrier{"traceparent": traceParent})
	if telemetry.TraceParent(ctx) != traceParent {
		t.Fatalf("context carries trace %q, want %q", telemetry.TraceParent(ctx), traceParent)
	}
	return ctx
}

type mapCarrier map[string]string

func (m mapCarrier) Get(k string) string { return m[k] }
func (m mapCarrier) Set(k, v string)     { m[k] = v }
func (m mapCarrier) Keys() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestAppendSetWritesEveryEntryInOrderWithItsOwnTrace: the events of a batch
// of changes land in the outbox in the order given, each carrying the trace
// of the change that made it, so a consumer applying many tickets' events at
// once keeps every ticket's trace; an event too large refuses the whole set.
func TestAppendSetWritesEveryEntryInOrderWithItsOwnTrace(t *testing.T) {
	t.Parallel()
	const (
		traceA = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		traceB = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	)
	ctx := context.Background()
	db := pgtest.Open(t, "appendset", nil)
	a, b := tracedContext(t, traceA), tracedContext(t, traceB)
	evs := []*whistlev1.Event{event(1), event(2), event(1)}
	err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return outbox.AppendSet(ctx, tx, []outbox.Entry{{Ctx: a, Events: evs[:2]}, {Ctx: ctx}, {Ctx: b, Events: evs[2:]}})
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool.Query(ctx, `SELECT event_id::text, headers->>'traceparent' FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ ID, Trace string }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	want := []row{{evs[0].GetEventId(), traceA}, {evs[1].GetEventId(), traceA}, {evs[2].GetEventId(), traceB}}
	if len(got) != len(want) {
		t.Fatalf("outbox holds %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("outbox row %d is %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return outbox.AppendSet(ctx, tx, []outbox.Entry{{Ctx: a, Events: []*whistlev1.Event{event(3)}},
			{Ctx: b, Events: []*whistlev1.Event{sized(t, outbox.MaxEventSize+1)}}})
	})
	if !errors.Is(err, outbox.ErrEventTooLarge) {
		t.Fatalf("AppendSet with an event too large: %v, want ErrEventTooLarge", err)
	}
	if n := unsent(t, db); n != len(want) {
		t.Fatalf("a refused set left %d rows, want the %d from before", n, len(want))
	}
}
