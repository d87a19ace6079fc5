package response_test

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
)

type dispatchOpts struct {
	category, grid string
	acceptIn       time.Duration
	assisting      []string
}

// dispatchTo puts a new ticket into dept's inbox.
func (f *fixture) dispatchTo(t *testing.T, dept string, o dispatchOpts) string {
	t.Helper()
	id := ids.New()
	if o.category == "" {
		o.category = "road_damage"
	}
	if o.grid == "" {
		o.grid = "xc-hd-dj-g01"
	}
	community := o.grid[:strings.LastIndex(o.grid, "-")]
	street := community[:strings.LastIndex(community, "-")]
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-" + id[:8], Version: 2, OccurredAt: now,
		Producer: "dispatch"}, &whistlev1.TicketDispatched{
		LeadDepartmentId: dept, AssistingDepartmentIds: o.assisting, AcceptDue: timestamppb.New(now.Add(o.acceptIn)),
		ResolveDue: timestamppb.New(now.Add(72 * time.Hour)), AreaIds: []string{o.grid, community, street, "xc", "hh"},
		Ticket: &whistlev1.Ticket{Id: id, Category: o.category, Description: "d", Location: &whistlev1.Location{GridId: o.grid}},
	}))
	return id
}

func (f *fixture) list(t *testing.T, req *whistlev1.ListInboxRequest) []string {
	t.Helper()
	var out []string
	for page := 0; page < 20; page++ {
		resp, err := f.client.ListInbox(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range resp.GetItems() {
			out = append(out, it.GetTicketId())
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return out
		}
	}
	t.Fatal("pagination does not end")
	return nil
}

func TestInboxFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	road := f.dispatchTo(t, "xc-urban", dispatchOpts{acceptIn: time.Hour})
	light := f.dispatchTo(t, "xc-urban", dispatchOpts{category: "street_light_out", grid: "xc-hd-wy-g02", acceptIn: 5 * time.Hour})
	late := f.dispatchTo(t, "xc-urban", dispatchOpts{acceptIn: 3 * time.Hour})
	joint := f.dispatchTo(t, "xc-water", dispatchOpts{acceptIn: 2 * time.Hour, assisting: []string{"xc-urban"}})
	f.deliver(t, events.MustNew(events.Meta{TicketID: late, Version: 2, OccurredAt: now, Producer: "dispatch"},
		&whistlev1.TicketEscalated{Level: 2, Stage: "accept"}))
	f.clock.Advance(2 * time.Hour) // road is overdue now
	for _, tt := range []struct {
		name string
		req  *whistlev1.ListInboxRequest
		want []string
	}{
		{"all, soonest deadline first", &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", PageSize: 1}, []string{road, late, light}},
		{"matter", &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", Category: "street_light_out"}, []string{light}},
		{"area: a community", &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", AreaOrgUnitId: "xc-hd-wy"}, []string{light}},
		{"area: the district", &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", AreaOrgUnitId: "xc", PageSize: 2}, []string{road, late, light}},
		{"overdue", &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", OverdueOnly: true}, []string{road}},
		{"escalated", &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", MinEscalationLevel: 1}, []string{late}},
		{"assisting", &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", Role: whistlev1.InboxRole_INBOX_ROLE_ASSIST}, []string{joint}},
		{"accepted only", &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", Statuses: []whistlev1.TicketStatus{whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED}}, nil},
	} {
		if got := f.list(t, tt.req); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := f.client.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", MinEscalationLevel: 4}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("escalation level 4: %v", err)
	}
}

// watcher reads a watch stream into a channel.
type watcher struct {
	changes chan *whistlev1.InboxChange
	beats   chan string
	cancel  context.CancelFunc
	done    chan error
}

func (f *fixture) watch(t *testing.T, dept, after string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := f.client.WatchInbox(ctx, &whistlev1.WatchInboxRequest{DepartmentId: dept, AfterCursor: after,
		HeartbeatInterval: durationpb.New(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{changes: make(chan *whistlev1.InboxChange, 10000), beats: make(chan string, 100), cancel: cancel, done: make(chan error, 1)}
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				if err == io.EOF || status.Code(err) == codes.Canceled {
					err = nil
				}
				w.done <- err
				return
			}
			if c := msg.GetChange(); c != nil {
				w.changes <- c
			} else {
				w.beats <- msg.GetHeartbeatCursor()
			}
		}
	}()
	t.Cleanup(cancel)
	return w
}

// take reads n changes, failing after 20 s.
func (w *watcher) take(t *testing.T, n int) []*whistlev1.InboxChange {
	t.Helper()
	out := make([]*whistlev1.InboxChange, 0, n)
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case c := <-w.changes:
			out = append(out, c)
		case <-timeout:
			t.Fatalf("got %d of %d changes", len(out), n)
		}
	}
	return out
}

// A watch cut off and resumed from its last cursor sees every change made
// during the cut exactly once, in order.
func TestWatchResumesWithoutGapsOrRepeats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var tickets []string
	for i := 0; i < 5; i++ {
		tickets = append(tickets, f.dispatchTo(t, "xc-urban", dispatchOpts{acceptIn: time.Hour}))
	}
	w := f.watch(t, "xc-urban", "")
	if b := <-w.beats; b != "0" {
		t.Fatalf("opening heartbeat %q, want 0", b)
	}
	first := w.take(t, 5)
	for i, c := range first {
		if c.GetCursor() != strconv.Itoa(i+1) || c.GetItem().GetTicketId() != tickets[i] ||
			c.GetKind() != whistlev1.InboxChangeKind_INBOX_CHANGE_KIND_UPSERT {
			t.Fatalf("change %d: %v", i, c)
		}
	}
	select { // nothing changes: a heartbeat carries the cursor reached
	case b := <-w.beats:
		if b != "5" {
			t.Fatalf("heartbeat cursor %q, want 5", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat")
	}
	w.cancel()
	if err := <-w.done; err != nil {
		t.Fatal(err)
	}

	// While nobody watches, many changes from several writers at once.
	var wg sync.WaitGroup
	for _, id := range tickets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := f.client.AddProgress(ctx, &whistlev1.AddProgressRequest{TicketId: id, Note: fmt.Sprint("step ", i), Actor: actor("xc-urban")}); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: actor("xc-urban")}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); f.dispatchTo(t, "xc-urban", dispatchOpts{acceptIn: time.Hour}) }()
	wg.Wait()
	// A ticket re-dispatched elsewhere leaves this inbox.
	f.deliver(t, events.MustNew(events.Meta{TicketID: tickets[0], Version: 9, OccurredAt: now, Producer: "dispatch"},
		&whistlev1.TicketDispatched{LeadDepartmentId: "xc-water", Ticket: &whistlev1.Ticket{Id: tickets[0]}}))

	w = f.watch(t, "xc-urban", "5")
	want := 5*21 + 1 + 1 // notes and accepts, the new ticket, the removal
	got := w.take(t, want)
	removed := 0
	for i, c := range got {
		if c.GetCursor() != strconv.Itoa(6+i) {
			t.Fatalf("change %d has cursor %s, want %d: a gap or a repeat", i, c.GetCursor(), 6+i)
		}
		if c.GetKind() == whistlev1.InboxChangeKind_INBOX_CHANGE_KIND_REMOVED {
			removed++
		}
	}
	if removed != 1 {
		t.Fatalf("%d removals, want 1", removed)
	}
	select {
	case c := <-w.changes:
		t.Fatalf("an extra change: %v", c)
	case <-time.After(300 * time.Millisecond):
	}
	// Live: a new change arrives at once.
	f.dispatchTo(t, "xc-urban", dispatchOpts{acceptIn: time.Hour})
	if c := w.take(t, 1)[0]; c.GetCursor() != strconv.Itoa(6+want) {
		t.Fatalf("live change cursor %s", c.GetCursor())
	}
	if _, err := f.client.WatchInbox(ctx, &whistlev1.WatchInboxRequest{DepartmentId: "xc-urban", AfterCursor: "abc"}); err != nil {
		t.Fatal(err)
	}
}

func TestRetriedRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.dispatchTo(t, "xc-urban", dispatchOpts{acceptIn: time.Hour})
	accept := &whistlev1.AcceptRequest{TicketId: id, Actor: actor("xc-urban"), RequestId: "req-accept-1"}
	var wg sync.WaitGroup
	responses := make([]*whistlev1.AcceptResponse, 6)
	for i := range responses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.client.Accept(ctx, accept)
			if err != nil {
				t.Error(err)
			}
			responses[i] = r
		}()
	}
	wg.Wait()
	for _, r := range responses {
		if r.GetItem().GetVersion() != 3 || r.GetItem().GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_ACCEPTED {
			t.Fatalf("a retry got %v", r)
		}
	}
	note := &whistlev1.AddProgressRequest{TicketId: id, Note: "on site", Actor: actor("xc-urban"), RequestId: "req-note-1"}
	for i := 0; i < 3; i++ {
		if _, err := f.client.AddProgress(ctx, note); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.outboxCount(t); n != 2 {
		t.Fatalf("%d events, want 2 (one accept, one note)", n)
	}
	// Without a request id, a repeated accept is refused: it is not a retry.
	if _, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: actor("xc-urban")}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("accept again: %v", err)
	}
	// The same request id for another call is a mistake.
	_, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-urban"), Result: "x", RequestId: "req-accept-1"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("request id reused for another call: %v", err)
	}
}

func TestJointHandling(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.dispatchTo(t, "xc-water", dispatchOpts{acceptIn: time.Hour, assisting: []string{"xc-urban", "xc-env"}})
	if _, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: actor("xc-water")}); err != nil {
		t.Fatal(err)
	}
	resolve := func(reason string) error {
		_, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-water"), Result: "fixed",
			MissingAssistsReason: reason})
		return err
	}
	if err := resolve(""); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "xc-env, xc-urban") {
		t.Fatalf("resolve before the assists: %v", err)
	}
	report := func(dept string) error {
		_, err := f.client.ReportAssist(ctx, &whistlev1.ReportAssistRequest{TicketId: id, Note: dept + " did its part", Actor: actor(dept)})
		return err
	}
	if err := report("yq-urban"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a department that does not assist: %v", err)
	}
	if err := report("xc-urban"); err != nil {
		t.Fatal(err)
	}
	if ev := f.lastEvent(t); !ev.GetProgressed().GetAssistDone() || ev.GetProgressed().GetDepartmentId() != "xc-urban" {
		t.Fatalf("assist event %v", ev)
	}
	if err := report("xc-urban"); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("reporting twice: %v", err)
	}
	if err := resolve(""); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "xc-env") {
		t.Fatalf("resolve with one assist missing: %v", err)
	}
	if err := resolve("environment bureau unreachable; the water is safe"); err != nil {
		t.Fatal(err)
	}
	if ev := f.lastEvent(t); !strings.Contains(ev.GetResolved().GetMissingAssistsReason(), "unreachable") {
		t.Fatalf("resolved event %v", ev)
	}
	it := f.item(t, id)
	if len(it.GetAssists()) != 2 || !it.GetAssists()[1].GetReported() || it.GetAssists()[0].GetReported() {
		t.Fatalf("assists %v", it.GetAssists())
	}
}
