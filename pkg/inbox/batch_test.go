package inbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/whistle-civic/whistle/pkg/bus"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

func deliveries(ms ...*bus.Message) []bus.Delivery {
	out := make([]bus.Delivery, len(ms))
	for i, m := range ms {
		out[i] = bus.Delivery{Ctx: context.Background(), Msg: m}
	}
	return out
}

// TestBatchAppliesEachEventOnItsOwn: one transaction for the batch, but each
// event's fate is its own — a failing, a waiting and a poison event leave no
// trace and do not hold back the others, which commit together, and
// AfterCommit hooks run for the events that took effect only.
func TestBatchAppliesEachEventOnItsOwn(t *testing.T) {
	t.Parallel()
	db, p := projector(t)
	apply := p.Apply
	boom := ids.New()
	var committed []string
	p.Apply = func(ctx context.Context, e *whistlev1.Event) (ticket.Decision, error) {
		d, err := apply(ctx, e)
		postgres.AfterCommit(ctx, func() { committed = append(committed, e.GetTicketId()) })
		if e.GetTicketId() == boom {
			return 0, errors.New("boom") // after its write: the savepoint must undo it
		}
		return d, err
	}
	a, b := ids.New(), ids.New()
	early := ev(ids.New(), 2, &whistlev1.TicketDispatched{})
	garbage := &bus.Message{Data: []byte("garbage"), EventType: "reported"}
	batch := deliveries(
		message(t, ev(a, 1, &whistlev1.TicketReported{})),
		message(t, ev(boom, 1, &whistlev1.TicketReported{})),
		message(t, early),
		garbage,
		message(t, ev(a, 2, &whistlev1.TicketDispatched{})), // sees a's version 1 from earlier in the batch
		message(t, ev(b, 1, &whistlev1.TicketReported{})),
	)
	errs := p.HandleBatch(context.Background(), batch)
	if len(errs) != len(batch) {
		t.Fatalf("%d answers for %d messages", len(errs), len(batch))
	}
	want := []func(error) bool{
		isNil, func(err error) bool { return err != nil && !errors.Is(err, bus.ErrLater) && !bus.IsPoison(err) },
		func(err error) bool { return errors.Is(err, bus.ErrLater) }, bus.IsPoison, isNil, isNil,
	}
	for i, ok := range want {
		if !ok(errs[i]) {
			t.Errorf("message %d: answer %v", i, errs[i])
		}
	}
	for _, c := range []struct {
		id      string
		version int64
		applied int
	}{{a, 2, 2}, {b, 1, 1}, {boom, 0, 0}, {early.GetTicketId(), 0, 0}} {
		if v, n := state(t, db, c.id); v != c.version || n != c.applied {
			t.Errorf("ticket %s: version %d, applied %d; want %d, %d", c.id, v, n, c.version, c.applied)
		}
	}
	if len(committed) != 3 || committed[0] != a || committed[1] != a || committed[2] != b {
		t.Errorf("AfterCommit ran for %v; want a, a, b", committed)
	}
	var rows int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox`).Scan(&rows); err != nil || rows != 3 {
		t.Errorf("inbox rows: %d (%v); want 3, one per event applied", rows, err)
	}
	// The early event applies once its predecessor has come.
	retry := p.HandleBatch(context.Background(), deliveries(message(t, ev(early.GetTicketId(), 1, &whistlev1.TicketReported{})),
		message(t, early)))
	if retry[0] != nil || retry[1] != nil {
		t.Fatalf("redelivery: %v", retry)
	}
	if outcome, err := p.Process(context.Background(), early); err != nil || outcome != inbox.OutcomeDuplicate {
		t.Fatalf("the early event again: %q, %v; want duplicate", outcome, err)
	}
}

// TestBatchWaitsWhenTheCommitFails: when the batch's transaction cannot
// commit because the database went away, no event took effect, and every one
// waits to be delivered again.
func TestBatchWaitsWhenTheCommitFails(t *testing.T) {
	t.Parallel()
	db, p := projector(t)
	apply := p.Apply
	down := true
	p.Apply = func(ctx context.Context, e *whistlev1.Event) (ticket.Decision, error) {
		d, err := apply(ctx, e)
		if down { // kill our own connection: the commit will fail
			_, _ = db.Q(ctx).Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
		}
		return d, err
	}
	a, b := ids.New(), ids.New()
	errs := p.HandleBatch(context.Background(), deliveries(message(t, ev(a, 1, &whistlev1.TicketReported{})),
		message(t, ev(b, 1, &whistlev1.TicketReported{}))))
	for i, err := range errs {
		if !errors.Is(err, bus.ErrLater) {
			t.Errorf("message %d: %v; want ErrLater", i, err)
		}
	}
	for _, id := range []string{a, b} {
		if v, n := state(t, db, id); v != 0 || n != 0 {
			t.Errorf("ticket %s took effect (version %d, applied %d) although its batch did not commit", id, v, n)
		}
	}
	down = false
	errs = p.HandleBatch(context.Background(), deliveries(message(t, ev(a, 1, &whistlev1.TicketReported{})),
		message(t, ev(b, 1, &whistlev1.TicketReported{}))))
	for i, err := range errs {
		if err != nil {
			t.Fatalf("message %d after the database is back: %v", i, err)
		}
	}
	for _, id := range []string{a, b} {
		if v, n := state(t, db, id); v != 1 || n != 1 {
			t.Errorf("ticket %s: version %d, applied %d; want 1, 1", id, v, n)
		}
	}
}

// TestBatchThatAppliesWholeTakesOneTransaction: a batch in which every event
// applies commits as one transaction with no savepoints (the fast path): every
// inbox row it wrote carries the same transaction id (a savepoint would give
// its rows one of its own).
func TestBatchThatAppliesWholeTakesOneTransaction(t *testing.T) {
	t.Parallel()
	db, p := projector(t)
	var batch []bus.Delivery
	for range 20 {
		id := ids.New()
		batch = append(batch, deliveries(message(t, ev(id, 1, &whistlev1.TicketReported{})),
			message(t, ev(id, 2, &whistlev1.TicketDispatched{})))...)
	}
	for i, err := range p.HandleBatch(context.Background(), batch) {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	var rows, xids int
	err := db.Pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT xmin::text) FROM inbox`).Scan(&rows, &xids)
	if err != nil || rows != 40 || xids != 1 {
		t.Errorf("inbox rows %d written by %d (sub)transactions (%v); want 40 by one", rows, xids, err)
	}
}

func isNil(err error) bool { return err == nil }
