package response_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/services/response"
)

// TestSetBasedBatchesFillInboxesAsOneByOne applies the same stream of
// tickets' stories twice: one event at a time, and in batches applied
// set-based, split by ticket into partitions applied side by side, some
// batches holding every event twice. The items, their assists and what a
// watcher replaying each department's change log ends with must be the same
// (a batch logs each item as it leaves it, so a department a ticket passed
// through within one batch sees neither its coming nor its going), and every
// batch must take the set-based path.
func TestSetBasedBatchesFillInboxesAsOneByOne(t *testing.T) {
	t.Parallel()
	stream := platformtest.Interleave(responseStories(24))
	one := newFixture(t)
	for _, ev := range stream {
		one.deliver(t, ev)
	}
	want := inboxState(t, one)
	for _, tc := range []struct {
		name              string
		batch, partitions int
	}{
		{"one event a batch", 1, 1},
		{"batches of 7, one partition", 7, 1},
		{"batches of 64 in 4 partitions", 64, 4},
		{"one batch of everything in 8 partitions", len(stream), 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var sets, refused atomic.Int64
			set := response.ApplySet(f.svc)
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
					msgs = slices.Concat(msgs, msgs) // redelivered within the batch
				}
				for k, err := range f.p.HandleBatch(context.Background(), platformtest.Deliveries(t, msgs)) {
					if err != nil {
						t.Fatalf("event %d of the batch at %d: %v", k, i, err)
					}
				}
			}
			if got := inboxState(t, f); got != want {
				t.Errorf("set-based inboxes differ from one by one:\n got %s\nwant %s", got, want)
			}
			if tc.batch > 1 && (sets.Load() == 0 || refused.Load() != 0) {
				t.Errorf("set-based path taken %d times, refused %d: want every batch taken set-based", sets.Load(), refused.Load())
			}
		})
	}
}

// responseStories are tickets through every kind of event the inbox
// follows: dispatched with assists, escalated, rescheduled, re-dispatched to
// another department with other assists, reworked, closed; arbitrated,
// granted more time, cancelled; merged; and one that ends before any inbox
// saw it.
func responseStories(n int) [][]*whistlev1.Event {
	var out [][]*whistlev1.Event
	due := func(h int) *timestamppb.Timestamp { return timestamppb.New(now.Add(time.Duration(h) * time.Hour)) }
	ev := func(id string, v int64, body proto.Message) *whistlev1.Event {
		return events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-" + id[:8], Version: v, OccurredAt: now, Producer: "test"}, body)
	}
	sent := func(id string, v int64, dept string, assisting ...string) *whistlev1.Event {
		return ev(id, v, &whistlev1.TicketDispatched{LeadDepartmentId: dept, AssistingDepartmentIds: assisting,
			AcceptDue: due(2), ResolveDue: due(72), AreaIds: []string{"xc-hd-dj-g01", "xc-hd-dj", "xc-hd", "xc", "hh"},
			Ticket: &whistlev1.Ticket{Id: id, Category: "road_damage", Description: "d",
				Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"}, Reporter: &whistlev1.Reporter{Name: "Wang", OrgUnitId: "xc-hd-dj"}}})
	}
	for i := range n {
		id := ids.New()
		var s []*whistlev1.Event
		switch i % 4 {
		case 0:
			s = []*whistlev1.Event{sent(id, 2, "xc-urban", "xc-water", "xc-housing"),
				ev(id, 2, &whistlev1.TicketEscalated{Level: 1, Stage: "accept"}),
				ev(id, 2, &whistlev1.TicketRescheduled{AcceptDue: due(4), ResolveDue: due(80)}),
				sent(id, 4, "xc-water", "xc-housing"),
				ev(id, 6, &whistlev1.TicketReopened{ReasonCodes: []string{"not_fixed"}, Comment: "still leaking", ReworkCount: 1}),
				ev(id, 8, &whistlev1.TicketClosed{})}
		case 1:
			s = []*whistlev1.Event{sent(id, 2, "xc-water"),
				ev(id, 4, &whistlev1.TicketArbitrated{DepartmentId: "xc-urban", AcceptDue: due(3), ResolveDue: due(90)}),
				ev(id, 4, &whistlev1.TicketExtensionDecided{Granted: true, ResolveDue: due(120)}),
				ev(id, 5, &whistlev1.TicketCancelled{Reason: "withdrawn"})}
		case 2:
			s = []*whistlev1.Event{sent(id, 2, "xc-urban", "xc-water"), ev(id, 3, &whistlev1.TicketMerged{})}
		case 3:
			s = []*whistlev1.Event{ev(id, 3, &whistlev1.TicketClosed{})}
		}
		out = append(out, s)
	}
	return out
}

// inboxState is every item, every assist, and each department's inbox as a
// watcher replaying its change log holds it.
func inboxState(t *testing.T, f *fixture) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT to_jsonb(i)::text FROM items i ORDER BY ticket_id`,
		`SELECT to_jsonb(a)::text FROM assists a ORDER BY ticket_id, department_id`,
		`SELECT concat_ws(' ', department_id, ticket_id, md5(item)) FROM (
			SELECT DISTINCT ON (department_id, ticket_id) * FROM inbox_changes ORDER BY department_id, ticket_id, id DESC) AS last
			WHERE kind = 1 ORDER BY department_id, ticket_id`,
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
	return b.String()
}
