package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/whistle-civic/whistle/pkg/bus"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// setProjector is projector with a set-based effect (it applies each item
// with Apply, in the batch's transaction) that records what it was given.
func setProjector(t *testing.T, partitions int) (*inbox.Processor, func() [][]string, func(id string) (int64, int), func(id string) string) {
	db, p := projector(t)
	var mu sync.Mutex
	var calls [][]string
	p.Partitions = partitions
	p.ApplySet = func(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
		var got []string
		out := make([]ticket.Decision, len(items))
		for i, it := range items {
			got = append(got, it.Event.GetEventId())
			d, err := p.Apply(it.Ctx, it.Event)
			if err != nil {
				return nil, err
			}
			out[i] = d
		}
		mu.Lock()
		calls = append(calls, got)
		mu.Unlock()
		return out, nil
	}
	outcome := func(eventID string) string {
		var o string
		_ = db.Pool.QueryRow(context.Background(), `SELECT outcome FROM inbox WHERE event_id = $1`, eventID).Scan(&o)
		return o
	}
	return p, func() [][]string { mu.Lock(); defer mu.Unlock(); return calls },
		func(id string) (int64, int) { return state(t, db, id) }, outcome
}

// TestSetBasedBatch: the set-based effect sees each new event once (not
// those the inbox holds, nor a second delivery in the same batch), stale
// events are marked so, and a batch with an event that must wait is applied
// event by event instead, the waiting one alone left out.
func TestSetBasedBatch(t *testing.T) {
	t.Parallel()
	a, b := ids.New(), ids.New()
	a1, a2, b1 := ev(a, 1, &whistlev1.TicketReported{}), ev(a, 2, &whistlev1.TicketDispatched{}), ev(b, 1, &whistlev1.TicketReported{})
	for _, tc := range []struct {
		name string
		// before is delivered first, alone; batch next.
		before, batch []*whistlev1.Event
		// sets is how many events each successful set call took.
		sets    []int
		later   int // index in batch of the event that must wait, or -1
		a, b    int64
		outcome map[string]string
	}{
		{name: "new events, one delivered twice", batch: []*whistlev1.Event{a1, b1, a1, a2}, sets: []int{3}, later: -1, a: 2, b: 1,
			outcome: map[string]string{a1.GetEventId(): "applied", a2.GetEventId(): "applied"}},
		{name: "an event the inbox holds is left out", before: []*whistlev1.Event{a1}, batch: []*whistlev1.Event{a1, a2, b1},
			sets: []int{2}, later: -1, a: 2, b: 1},
		{name: "a stale event is marked", before: []*whistlev1.Event{a1, a2}, batch: []*whistlev1.Event{ev(a, 1, &whistlev1.TicketDispatched{}), b1},
			sets: []int{2}, later: -1, a: 2, b: 1},
		{name: "an event that must wait sends the batch one by one", batch: []*whistlev1.Event{b1, a2}, later: 1, a: 0, b: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, calls, st, outcome := setProjector(t, 1)
			for _, e := range tc.before {
				if _, err := p.Process(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			before := len(calls())
			msgs := make([]*bus.Message, len(tc.batch))
			for i, e := range tc.batch {
				msgs[i] = message(t, e)
			}
			for i, err := range p.HandleBatch(context.Background(), deliveries(msgs...)) {
				if wait := i == tc.later; wait != errors.Is(err, bus.ErrLater) || (!wait && err != nil) {
					t.Errorf("event %d: %v", i, err)
				}
			}
			var sizes []int
			for _, c := range calls()[before:] {
				sizes = append(sizes, len(c))
			}
			if tc.later < 0 && fmt.Sprint(sizes) != fmt.Sprint(tc.sets) {
				t.Errorf("set calls took %v events; want %v", sizes, tc.sets)
			}
			if va, _ := st(a); va != tc.a {
				t.Errorf("ticket a at version %d; want %d", va, tc.a)
			}
			if vb, n := st(b); vb != tc.b || n != int(tc.b) {
				t.Errorf("ticket b at version %d applied %d times; want %d", vb, n, tc.b)
			}
			for id, want := range tc.outcome {
				if got := outcome(id); got != want {
					t.Errorf("event %s: outcome %q; want %q", id, got, want)
				}
			}
			if tc.name == "a stale event is marked" {
				if got := outcome(tc.batch[0].GetEventId()); got != inbox.OutcomeStale {
					t.Errorf("stale event: outcome %q", got)
				}
			}
		})
	}
}

// TestPartitionsKeepEachTicketsOrder: a batch of many tickets' events, split
// into partitions applied side by side, applies every event once, in order.
func TestPartitionsKeepEachTicketsOrder(t *testing.T) {
	t.Parallel()
	p, calls, st, _ := setProjector(t, 4)
	var tickets []string
	var msgs []*bus.Message
	for range 40 {
		tickets = append(tickets, ids.New())
	}
	for v := int64(1); v <= 3; v++ {
		for _, id := range tickets {
			var body = &whistlev1.TicketDispatched{}
			msgs = append(msgs, message(t, ev(id, v, body)))
		}
	}
	for i, err := range p.HandleBatch(context.Background(), deliveries(msgs...)) {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if n := len(calls()); n < 2 || n > 4 {
		t.Errorf("%d set calls; want one per partition (2 to 4)", n)
	}
	for _, id := range tickets {
		if v, n := st(id); v != 3 || n != 3 {
			t.Errorf("ticket %s: version %d applied %d; want 3, 3", id, v, n)
		}
	}
}
