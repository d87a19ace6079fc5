package evaluation_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/services/evaluation"
)

// TestSetBasedBatchesOpenRoundsAsOneByOne applies the same stream twice: one
// event at a time, and in batches applied set-based in partitions side by
// side, some holding every event twice. Reporters, areas, rounds and the
// rounds' announcements must be the same, and every batch set-based.
func TestSetBasedBatchesOpenRoundsAsOneByOne(t *testing.T) {
	t.Parallel()
	stream := platformtest.Interleave(evaluationStories(24))
	one := newFixture(t)
	for _, ev := range stream {
		one.deliver(t, ev)
	}
	want := roundsState(t, one)
	for _, tc := range []struct {
		name              string
		batch, partitions int
	}{
		{"batches of 7, one partition", 7, 1},
		{"batches of 64 in 4 partitions", 64, 4},
		{"one batch of everything in 8 partitions", len(stream), 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var sets, refused atomic.Int64
			set := evaluation.ApplySet(f.svc)
			f.p.Partitions = tc.partitions
			f.p.ApplySet = func(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
				sets.Add(1)
				d, err := set(ctx, items)
				if err != nil || slices.Contains(d, ticket.Later) {
					t.Logf("set-based batch refused: %v %v", d, err)
					refused.Add(1)
				}
				return d, err
			}
			for i := 0; i < len(stream); i += tc.batch {
				msgs := stream[i:min(i+tc.batch, len(stream))]
				if i/tc.batch%3 == 1 {
					msgs = slices.Concat(msgs, msgs)
				}
				for k, err := range f.p.HandleBatch(context.Background(), platformtest.Deliveries(t, msgs)) {
					if err != nil {
						t.Fatalf("event %d of the batch at %d: %v", k, i, err)
					}
				}
			}
			if got := roundsState(t, f); got != want {
				t.Errorf("set-based state differs from one by one:\n got %s\nwant %s", got, want)
			}
			if sets.Load() == 0 || refused.Load() != 0 {
				t.Errorf("set-based path taken %d times, refused %d", sets.Load(), refused.Load())
			}
		})
	}
}

// evaluationStories: reported and dispatched, resolved; some resolved twice
// (a rework's second resolution opens a second round), some re-dispatched,
// some resolved again at an old version (stale).
func evaluationStories(n int) [][]*whistlev1.Event {
	var out [][]*whistlev1.Event
	for i := range n {
		id := ids.New()
		grid := []string{"xc-hd-dj-g01", "xc-hd-wy-g02"}[i%2]
		ev := func(v int64, body proto.Message) *whistlev1.Event {
			return events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-" + id[:8], Version: v, OccurredAt: now, Producer: "test"}, body)
		}
		area := []string{grid, grid[:strings.LastIndex(grid, "-")], "xc-hd", "xc", "hh"}
		s := []*whistlev1.Event{
			ev(1, &whistlev1.TicketReported{Ticket: &whistlev1.Ticket{Id: id, Reporter: &whistlev1.Reporter{OrgUnitId: grid}}}),
			ev(2, &whistlev1.TicketDispatched{LeadDepartmentId: "xc-urban", AreaIds: area}),
			ev(4, &whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: fmt.Sprint("fixed ", i)}),
		}
		switch i % 3 {
		case 0:
			s = append(s, ev(6, &whistlev1.TicketResolved{DepartmentId: "xc-urban", Result: "fixed again"}))
		case 1:
			s = append(s, ev(3, &whistlev1.TicketDispatched{LeadDepartmentId: "xc-water", AreaIds: area[1:]}),
				ev(4, &whistlev1.TicketResolved{DepartmentId: "xc-water", Result: "stale"}))
		}
		out = append(out, s)
	}
	return out
}

// roundsState is every ticket's reporter and area, every round, and the
// announcements of rounds per ticket (without their random ids).
func roundsState(t *testing.T, f *fixture) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT to_jsonb(r)::text FROM tickets r ORDER BY ticket_id`,
		`SELECT to_jsonb(e)::text FROM evaluations e ORDER BY ticket_id, round`,
	} {
		rows, err := f.deps.DB.Pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, row)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	byTicket := map[string][]string{}
	for _, ev := range platformtest.Outbox(t, f.deps.DB) {
		ev.EventId = ""
		byTicket[ev.GetTicketId()] = append(byTicket[ev.GetTicketId()], fmt.Sprint(ev))
	}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range byTicket {
			if !yield(id) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "%s: %s\n", id, strings.Join(byTicket[id], " | "))
	}
	return b.String()
}
