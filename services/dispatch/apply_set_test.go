package dispatch_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/services/dispatch"
)

// TestSetBasedBatchesDispatchAsOneByOne applies the same stream of tickets'
// stories twice: one event at a time, and in batches applied set-based,
// split by ticket into partitions applied side by side, some batches holding
// every event twice. The assignments and the events dispatch announces, per
// ticket and in order, must be the same; every batch of whole stories must
// take the set-based path, and a batch with an event that must wait falls
// back to one by one and ends as the same stream applied one by one.
func TestSetBasedBatchesDispatchAsOneByOne(t *testing.T) {
	t.Parallel()
	stream := platformtest.Interleave(dispatchStories(24))
	one := newFixture(t, dispatch.Config{})
	for _, ev := range stream {
		if got := one.deliver(t, ev); got != inbox.OutcomeApplied {
			t.Fatalf("one by one, %s@%d of %s: %s", events.TypeOf(ev), ev.GetTicketVersion(), ev.GetTicketId(), got)
		}
	}
	want := state(t, one)
	// Overtaking events wait and come again, and by then some are stale: the
	// outcome is that of the same stream one by one, redelivered the same way.
	late := newFixture(t, dispatch.Config{})
	for _, ev := range overtaking(stream) {
		late.deliver(t, ev)
	}
	redeliverUntilDone(t, late, overtaking(stream))
	wantLate := state(t, late)
	for _, tc := range []struct {
		name              string
		batch, partitions int
		overtake          bool
	}{
		{"one event a batch", 1, 1, false},
		{"batches of 7, one partition", 7, 1, false},
		{"batches of 64 in 4 partitions", 64, 4, false},
		{"one batch of everything in 8 partitions", len(stream), 8, false},
		{"batches of 16 where events overtake", 16, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, dispatch.Config{})
			var sets, refused atomic.Int64
			set := dispatch.ApplySet(f.svc)
			f.p.Partitions = tc.partitions
			f.p.ApplySet = func(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
				sets.Add(1)
				d, err := set(ctx, items)
				if err != nil || slices.Contains(d, ticket.Later) {
					refused.Add(1)
				}
				return d, err
			}
			evs := stream
			if tc.overtake {
				evs = overtaking(stream)
			}
			for i := 0; i < len(evs); i += tc.batch {
				msgs := evs[i:min(i+tc.batch, len(evs))]
				if i/tc.batch%3 == 1 {
					msgs = slices.Concat(msgs, msgs) // redelivered within the batch
				}
				for k, err := range f.p.HandleBatch(context.Background(), platformtest.Deliveries(t, msgs)) {
					if err != nil && !tc.overtake {
						t.Fatalf("event %d of the batch at %d: %v", k, i, err)
					}
				}
			}
			if tc.overtake {
				redeliverUntilDone(t, f, evs)
			}
			want := want
			if tc.overtake {
				want = wantLate
			}
			if got := state(t, f); got != want {
				t.Errorf("set-based state differs from one by one:\n got %s\nwant %s", got, want)
			}
			switch {
			case tc.batch > 1 && !tc.overtake && (sets.Load() == 0 || refused.Load() != 0):
				t.Errorf("set-based path taken %d times, refused %d: want every batch taken set-based", sets.Load(), refused.Load())
			case tc.overtake && refused.Load() == 0:
				t.Errorf("no batch fell back, yet events overtook their tickets' reports")
			}
		})
	}
}

// dispatchStories are tickets through every kind of event dispatch follows:
// accepted, paused and resumed, extension asked, resolved, reworked past the
// limit, returned and re-routed, closed, and one that waits for a person.
func dispatchStories(n int) [][]*whistlev1.Event {
	var out [][]*whistlev1.Event
	due := timestamppb.New(now.Add(30 * 24 * time.Hour))
	for i := range n {
		id := ids.New()
		var s []*whistlev1.Event
		switch i % 4 {
		case 0:
			s = []*whistlev1.Event{reported(id, "road_damage", "xc-hd-dj-g01"),
				moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}),
				moved(id, 3, &whistlev1.TicketProgressed{DepartmentId: "xc-urban", Note: "wait", Clock: whistlev1.ClockChange_CLOCK_CHANGE_PAUSE}),
				moved(id, 3, &whistlev1.TicketProgressed{DepartmentId: "xc-urban", Note: "no clock"}),
				moved(id, 3, &whistlev1.TicketProgressed{DepartmentId: "xc-urban", Note: "back", Clock: whistlev1.ClockChange_CLOCK_CHANGE_RESUME}),
				moved(id, 3, &whistlev1.TicketExtensionRequested{DepartmentId: "xc-urban", RequestedResolveDue: due, Reason: "parts"}),
				moved(id, 4, &whistlev1.TicketResolved{DepartmentId: "xc-urban"}),
				moved(id, 5, &whistlev1.TicketReopened{Escalate: true}),
				moved(id, 6, &whistlev1.TicketResolved{DepartmentId: "xc-urban"}),
				moved(id, 7, &whistlev1.TicketClosed{})}
		case 1:
			s = []*whistlev1.Event{reported(id, "drain_blocked", "xc-hd-dj-g01"),
				returned(id, 3, "xc-water"),
				moved(id, 5, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}),
				moved(id, 6, &whistlev1.TicketResolved{DepartmentId: "xc-urban"})}
		case 2:
			s = []*whistlev1.Event{reported(id, "water_leak", "xc-hd-dj-g02"),
				moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-water"})}
		case 3:
			s = []*whistlev1.Event{reported(id, "water_leak", "no-such-grid")}
		}
		out = append(out, s)
	}
	return out
}

// overtaking moves each ticket's second event before its report, as events
// of different consumers' making may arrive.
func overtaking(stream []*whistlev1.Event) []*whistlev1.Event {
	out := slices.Clone(stream)
	first := map[string]int{}
	for i, ev := range out {
		j, ok := first[ev.GetTicketId()]
		switch {
		case !ok:
			first[ev.GetTicketId()] = i
		case j >= 0:
			out[i], out[j] = out[j], out[i]
			first[ev.GetTicketId()] = -1
		}
	}
	return out
}

// redeliverUntilDone delivers evs one by one, in order, as the bus would
// redeliver those that had to wait; each must be applied or known by now.
func redeliverUntilDone(t *testing.T, f *fixture, evs []*whistlev1.Event) {
	t.Helper()
	for _, ev := range evs {
		if got := f.deliver(t, ev); got != inbox.OutcomeApplied && got != inbox.OutcomeDuplicate && got != inbox.OutcomeStale {
			t.Fatalf("redelivered %s@%d of %s: %s", events.TypeOf(ev), ev.GetTicketVersion(), ev.GetTicketId(), got)
		}
	}
}

// state is every assignment and, per ticket in order, every event dispatch
// announced (without their random ids).
func state(t *testing.T, f *fixture) string {
	t.Helper()
	var b strings.Builder
	rows, err := f.deps.DB.Pool.Query(context.Background(), `SELECT to_jsonb(a)::text FROM assignments a ORDER BY ticket_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatal(err)
		}
		b.WriteString(row + "\n")
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	byTicket := map[string][]string{}
	for _, ev := range f.events(t) {
		ev.EventId = ""
		byTicket[ev.GetTicketId()] = append(byTicket[ev.GetTicketId()], prototext.Format(ev))
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
