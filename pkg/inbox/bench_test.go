package inbox_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// benchProjector is the tests' projector for a benchmark: its Apply keeps
// each ticket's version and counts the events applied to it, reading the
// row FOR UPDATE and upserting it, under the contiguous ordering rule.
func benchProjector(b *testing.B) *inbox.Processor {
	b.Helper()
	db := pgtest.Open(b, "inboxbench", nil)
	_, err := db.Pool.Exec(context.Background(),
		`CREATE TABLE tickets (id uuid PRIMARY KEY, version bigint NOT NULL, applied int NOT NULL)`)
	if err != nil {
		b.Fatal(err)
	}
	return &inbox.Processor{DB: db, Consumer: "bench", Apply: func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
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
}

// benchBatch returns 64 new events as the stream would deliver them: 16
// tickets, each reported, dispatched, accepted and resolved, interleaved.
func benchBatch(b *testing.B) []*bus.Message {
	b.Helper()
	tickets := make([]string, 16)
	for i := range tickets {
		tickets[i] = ids.New()
	}
	var out []*bus.Message
	for v, body := range []proto.Message{&whistlev1.TicketReported{}, &whistlev1.TicketDispatched{},
		&whistlev1.TicketAccepted{}, &whistlev1.TicketResolved{}} {
		for _, id := range tickets {
			e := ev(id, int64(v+1), body)
			data, err := proto.Marshal(e)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, &bus.Message{Data: data, EventType: events.TypeOf(e), Subject: "whistle.v1." + events.TypeOf(e)})
		}
	}
	return out
}

// BenchmarkConsume measures an idempotent consumer taking in 64 events (16
// tickets, 4 events each) whose Apply upserts one row, against PostgreSQL:
// "batch" hands them to Processor.HandleBatch, one transaction with a
// savepoint per event; "one by one" to Processor.Handle, one transaction
// each. Building the events is untimed. events/s shows the gain of batching.
func BenchmarkConsume(b *testing.B) {
	ctx := context.Background()
	b.Run("batch", func(b *testing.B) {
		p := benchProjector(b)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			batch := deliveries(benchBatch(b)...)
			b.StartTimer()
			for i, err := range p.HandleBatch(ctx, batch) {
				if err != nil {
					b.Fatalf("event %d: %v", i, err)
				}
			}
		}
		b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("one by one", func(b *testing.B) {
		p := benchProjector(b)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			msgs := benchBatch(b)
			b.StartTimer()
			for i, m := range msgs {
				if err := p.Handle(ctx, m); err != nil {
					b.Fatalf("event %d: %v", i, err)
				}
			}
		}
		b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "events/s")
	})
}
