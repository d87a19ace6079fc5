package stack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/services/monitoring"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestWholeLoop(t *testing.T) {
	// Random reports repeat matters in grids: hot spots would add proactive
	// tickets to the counts. They are tested on their own.
	never := monitoring.HotSpotConfig{GridRepeats: 1 << 30, CommunityRepeats: 1 << 30, RisingMin: 1 << 30}
	r := stacktest.StartWith(t, stacktest.Options{Monitoring: monitoring.Config{HotSpots: never}})
	c, spans := r.As(auth.RoleMonitor, r.City), r.Spans
	ctx := context.Background()
	const n = 120
	res, err := loop.Run(ctx, r.Clients, loop.Options{Tickets: n, Concurrency: 16, Unsatisfied: 0.25, Timeout: 3 * time.Minute,
		Seed: 7, As: r.LoopAs, City: r.City})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reported != n || res.Closed != n || res.Stuck != 0 || len(res.Failures) > 0 {
		t.Fatalf("%s; failures: %v", res.Summary(), res.Failures)
	}
	if len(res.Reopened) == 0 || len(res.Reopened) == n {
		t.Fatalf("%d of %d tickets reopened; the run must mix both paths", len(res.Reopened), n)
	}
	t.Logf("%s in %s (%d reopened once)", res.Summary(), res.Took.Round(time.Millisecond), len(res.Reopened))

	for _, id := range res.TicketIDs {
		checkTimeline(t, r, id, res.Reopened[id])
	}
	counts, err := c.Monitoring.GetCounts(ctx, &whistlev1.GetCountsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if counts.GetTotal() != n || len(counts.GetCounts()) != 1 ||
		counts.GetCounts()[0].GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_CLOSED || counts.GetCounts()[0].GetCount() != n {
		t.Fatalf("counts %v, want %d CLOSED", counts, n)
	}
	for id := range res.Reopened {
		checkOneTrace(t, c, spans, id)
		break
	}
}

// checkTimeline asserts the ticket's story is complete and in order.
func checkTimeline(t *testing.T, r *stacktest.Running, id string, reopened bool) {
	t.Helper()
	tl, err := r.As(auth.RoleMonitor, r.City).Monitoring.GetTimeline(context.Background(), &whistlev1.GetTimelineRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	dept := r.As(auth.RoleDepartmentHandler, tl.GetState().GetLeadDepartmentId())
	item, err := dept.Response.GetInboxItem(context.Background(), &whistlev1.GetInboxItemRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	// Each assisting department reports its part once, after the lead accepted.
	assists := strings.Repeat(" progressed@3", len(item.GetItem().GetAssists()))
	want := "reported@1 dispatched@2 accepted@3" + assists + " resolved@4 evaluation_opened@4 evaluated@4 closed@5"
	if reopened {
		// dispatch restarts the resolve window on rework and says so.
		want = "reported@1 dispatched@2 accepted@3" + assists + " resolved@4 evaluation_opened@4 evaluated@4 reopened@5 rescheduled@5 resolved@6 evaluation_opened@6 evaluated@6 closed@7"
	}
	var got []string
	var last time.Time
	for _, e := range tl.GetEntries() {
		got = append(got, fmt.Sprintf("%s@%d", e.GetEventType(), e.GetVersion()))
		// Transitions happen one after another; a note made at a version (an
		// evaluation, a reschedule) may be written after the next transition.
		if at := e.GetOccurredAt().AsTime(); events.IsTransition(e.GetEventType()) {
			if at.Before(last) {
				t.Errorf("ticket %s: %s happened before the transition above it", id, e.GetEventType())
			}
			last = at
		}
		if e.GetTraceId() != tl.GetState().GetTraceId() {
			t.Errorf("ticket %s: %s travelled in trace %s, the ticket's is %s", id, e.GetEventType(), e.GetTraceId(), tl.GetState().GetTraceId())
		}
	}
	// A later report of the loop may repeat the closed ticket (its matter
	// again in its grid): then once, last, at the closed version.
	closed := got[len(got)-1]
	if strings.HasPrefix(closed, "repeated@") && len(got) > 1 {
		closed = got[len(got)-2]
		if closed != "closed@"+strings.TrimPrefix(got[len(got)-1], "repeated@") {
			t.Fatalf("ticket %s: %s after %s, want a repeat at the closed version only", id, got[len(got)-1], closed)
		}
		got = got[:len(got)-1]
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("ticket %s timeline\n got %s\nwant %s", id, strings.Join(got, " "), want)
	}
	if st := tl.GetState(); st.GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_CLOSED || st.GetLeadDepartmentId() == "" {
		t.Fatalf("ticket %s state %v", id, st)
	}
}

// checkOneTrace asserts that the ticket's spans from all five services share its trace.
func checkOneTrace(t *testing.T, c loop.Clients, spans *tracetest.InMemoryExporter, id string) {
	t.Helper()
	tk, err := c.Intake.GetTicket(context.Background(), &whistlev1.GetTicketRequest{Ticket: id})
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]int{}
	for _, s := range spans.GetSpans() {
		if s.SpanContext.TraceID().String() != tk.GetTicket().GetTraceId() {
			continue
		}
		name, _ := s.Resource.Set().Value(attribute.Key("service.name"))
		services[name.AsString()]++
	}
	for _, svc := range stack.Names {
		if services["whistle-"+svc] == 0 {
			t.Errorf("no span of whistle-%s in ticket %s's trace %s (spans per service: %v)", svc, id, tk.GetTicket().GetTraceId(), services)
		}
	}
}
