package inbox_test

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// projector is a tiny consumer: it keeps each ticket's version and counts the
// events applied to it, using the contiguous ordering rule.
func projector(t *testing.T) (*postgres.DB, *inbox.Processor) {
	t.Helper()
	db := pgtest.Open(t, "inboxtest", nil)
	_, err := db.Pool.Exec(context.Background(),
		`CREATE TABLE tickets (id uuid PRIMARY KEY, version bigint NOT NULL, applied int NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	p := &inbox.Processor{DB: db, Consumer: "test", Apply: func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
		q := db.Q(ctx)
		var known int64
		_ = q.QueryRow(ctx, `SELECT version FROM tickets WHERE id = $1 FOR UPDATE`, ev.GetTicketId()).Scan(&known)
		d := ticket.Order(ticket.Contiguous, known, ev.GetTicketVersion(), events.IsTransition(events.TypeOf(ev)))
		if d != ticket.Apply {
			return d, nil
		}
		_, err := q.Exec(ctx, `INSERT INTO tickets VALUES ($1, $2, 1)
			ON CONFLICT (id) DO UPDATE SET version = greatest(tickets.version, $2), applied = tickets.applied + 1`,
			ev.GetTicketId(), ev.GetTicketVersion())
		return ticket.Apply, err
	}}
	return db, p
}

func state(t *testing.T, db *postgres.DB, id string) (version int64, applied int) {
	t.Helper()
	_ = db.Pool.QueryRow(context.Background(), `SELECT version, applied FROM tickets WHERE id = $1`, id).Scan(&version, &applied)
	return version, applied
}

func ev(ticketID string, version int64, body proto.Message) *whistlev1.Event {
	return events.MustNew(events.Meta{TicketID: ticketID, Version: version, OccurredAt: time.Now()}, body)
}

func message(t *testing.T, e *whistlev1.Event) *bus.Message {
	t.Helper()
	data, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return &bus.Message{Data: data, EventType: events.TypeOf(e), Subject: "whistle.v1." + events.TypeOf(e)}
}

func TestRedeliveredEventChangesNothing(t *testing.T) {
	t.Parallel()
	db, p := projector(t)
	id := ids.New()
	reported := ev(id, 1, &whistlev1.TicketReported{})
	for i := 0; i < 3; i++ {
		if err := p.Handle(context.Background(), message(t, reported)); err != nil {
			t.Fatal(err)
		}
	}
	if v, n := state(t, db, id); v != 1 || n != 1 {
		t.Fatalf("after 3 deliveries: version %d, applied %d; want 1, 1", v, n)
	}
	outcome, err := p.Process(context.Background(), reported)
	if err != nil || outcome != inbox.OutcomeDuplicate {
		t.Fatalf("fourth delivery: %q, %v; want duplicate", outcome, err)
	}
}

func TestFutureEventWaitsAndLeavesNoTrace(t *testing.T) {
	t.Parallel()
	db, p := projector(t)
	id := ids.New()
	dispatched := ev(id, 2, &whistlev1.TicketDispatched{})
	if err := p.Handle(context.Background(), message(t, dispatched)); err != bus.ErrLater {
		t.Fatalf("version 2 before version 1: %v, want ErrLater", err)
	}
	if _, n := state(t, db, id); n != 0 {
		t.Fatalf("a future event was applied")
	}
	// Version 1 arrives, then the retried version 2 applies: the first
	// attempt left no inbox row behind.
	for _, e := range []*whistlev1.Event{ev(id, 1, &whistlev1.TicketReported{}), dispatched} {
		if outcome, err := p.Process(context.Background(), e); err != nil || outcome != inbox.OutcomeApplied {
			t.Fatalf("v%d: %q, %v", e.GetTicketVersion(), outcome, err)
		}
	}
	if v, n := state(t, db, id); v != 2 || n != 2 {
		t.Fatalf("version %d, applied %d; want 2, 2", v, n)
	}
}

func TestStaleEventIsAcknowledgedAndIgnored(t *testing.T) {
	t.Parallel()
	db, p := projector(t)
	id := ids.New()
	for _, e := range []*whistlev1.Event{ev(id, 1, &whistlev1.TicketReported{}), ev(id, 2, &whistlev1.TicketDispatched{})} {
		if _, err := p.Process(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	// Another copy of version 2 (say, published again with a new event id).
	outcome, err := p.Process(context.Background(), ev(id, 2, &whistlev1.TicketDispatched{}))
	if err != nil || outcome != inbox.OutcomeStale {
		t.Fatalf("stale copy: %q, %v; want stale", outcome, err)
	}
	if v, n := state(t, db, id); v != 2 || n != 2 {
		t.Fatalf("version %d, applied %d; want 2, 2", v, n)
	}
}

func TestUndecodableOrMismatchedEventIsPoison(t *testing.T) {
	t.Parallel()
	_, p := projector(t)
	err := p.Handle(context.Background(), &bus.Message{Data: []byte("garbage"), EventType: "reported"})
	if !bus.IsPoison(err) {
		t.Fatalf("garbage: %v, want poison", err)
	}
	m := message(t, ev(ids.New(), 1, &whistlev1.TicketReported{}))
	m.EventType = "closed"
	if err := p.Handle(context.Background(), m); !bus.IsPoison(err) {
		t.Fatalf("reported event on the closed subject: %v, want poison", err)
	}
}

// TestEventWaitsWhileTheDatabaseIsDown: a handler failing because the
// database went away makes the event wait (like an early one, without
// counting as a failure), not go towards the dead-letter subject.
func TestEventWaitsWhileTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	db, p := projector(t)
	down := &inbox.Processor{DB: db, Consumer: "test", Apply: func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
		return 0, fmt.Errorf("save: %w", &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED})
	}}
	e := ev(ids.New(), 1, &whistlev1.TicketReported{})
	if err := down.Handle(context.Background(), message(t, e)); err != bus.ErrLater {
		t.Fatalf("with the database down: %v, want ErrLater", err)
	}
	// Once it is back, the same event applies: the failed attempt left no inbox row.
	if outcome, err := p.Process(context.Background(), e); err != nil || outcome != inbox.OutcomeApplied {
		t.Fatalf("after: %q, %v", outcome, err)
	}
}
