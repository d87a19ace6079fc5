package stack_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/bus"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/health"
	"github.com/whistle-civic/whistle/pkg/natsserver"
	"github.com/whistle-civic/whistle/pkg/natstest"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestNATSOutage stops NATS under a running stack: intake keeps accepting
// whistles (their events wait in its outbox), the health report says what is
// wrong, and when NATS comes back (same store, same port) the loop catches up
// by itself: every ticket reported meanwhile is dispatched.
func TestNATSOutage(t *testing.T) {
	store, port := t.TempDir(), freePort(t)
	startNATS := func() *natsserver.Server {
		t.Helper()
		ns, err := natsserver.Start(natsserver.Options{StoreDir: store, Listen: true, Port: port})
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	ns := startNATS()
	t.Cleanup(func() { ns.Shutdown() }) // after the stack's own cleanup, registered later
	env := &natstest.Env{Config: bus.Config{URL: ns.URL(), ConnectWait: 10 * time.Second}}
	r := stacktest.StartWith(t, stacktest.Options{NATS: env})
	ctx := context.Background()
	waitHealth(t, r, "every check to pass", func(rep health.Report) bool { return rep.Ready() })

	ns.Shutdown()
	waitHealth(t, r, "the NATS checks to fail", func(rep health.Report) bool {
		return !rep.Checks["intake.nats"].OK && !rep.Checks["dispatch.nats"].OK
	})

	reporter := r.As(auth.RoleReporter, "xc-hd-dj-g01")
	monitor := r.As(auth.RoleMonitor, r.City)
	const n = 3
	var ids []string
	for i := range n {
		start := time.Now()
		resp, err := reporter.Intake.Report(ctx, &whistlev1.ReportRequest{
			IdempotencyKey: fmt.Sprint("nats-outage-", i), Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source: whistlev1.Source_SOURCE_GRID_PATROL, Category: "water_leak", Title: "Leak",
			Description: fmt.Sprint("reported while NATS is down, #", i), Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"},
			Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01", Name: "grid officer"}})
		if err != nil {
			t.Fatalf("report %d with NATS down: %v", i, err)
		}
		t.Logf("report %d accepted with NATS down in %s", i, time.Since(start).Round(time.Millisecond))
		ids = append(ids, resp.GetTicket().GetId())
	}
	for _, id := range ids {
		tk, err := monitor.Intake.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: id})
		if err != nil || tk.GetTicket().GetId() != id {
			t.Fatalf("intake does not show ticket %s: %v", id, err)
		}
		if _, err := monitor.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: id}); status.Code(err) != codes.NotFound {
			t.Fatalf("ticket %s dispatched with NATS down? GetAssignment: %v", id, err)
		}
	}
	rep := r.Stack.Health(ctx)
	if rep.Ready() || !strings.HasPrefix(rep.Checks["intake.outbox"].Detail, fmt.Sprintf("%d events waiting", n)) {
		t.Fatalf("health with NATS down and %d whistles waiting: %+v", n, rep)
	}
	t.Logf("health with NATS down: failing %v; intake.nats %q; intake.outbox %q",
		rep.Failing(), rep.Checks["intake.nats"].Detail, rep.Checks["intake.outbox"].Detail)

	ns = startNATS()
	back := time.Now()
	for _, id := range ids {
		poll(t, time.Minute, "ticket "+id+" to be dispatched", func() bool {
			a, err := monitor.Dispatch.GetAssignment(ctx, &whistlev1.GetAssignmentRequest{TicketId: id})
			if err != nil && status.Code(err) != codes.NotFound {
				t.Fatalf("GetAssignment %s: %v", id, err)
			}
			return a.GetAssignment().GetLeadDepartmentId() != ""
		})
	}
	t.Logf("all %d tickets dispatched %s after NATS came back", n, time.Since(back).Round(time.Millisecond))
	waitHealth(t, r, "every check to pass again", func(rep health.Report) bool { return rep.Ready() })
}

// waitHealth polls the stack's health report until cond holds.
func waitHealth(t *testing.T, r *stacktest.Running, what string, cond func(health.Report) bool) {
	t.Helper()
	var rep health.Report
	poll(t, time.Minute, what, func() bool {
		rep = r.Stack.Health(context.Background())
		return cond(rep)
	})
}

// poll calls cond until it holds, failing the test after within.
func poll(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
		<-tick.C
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
