package response_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/response"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

type fixture struct {
	clock  *clock.Fake
	deps   platform.Deps
	p      *inbox.Processor
	svc    *response.Service
	client whistlev1.ResponseServiceClient
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFake(now)
	deps := platformtest.Deps(t, response.Name, response.Migrations(), nil, clk)
	svc := response.New(deps)
	conn := grpctest.Serve(t, grpcserver.Options{Log: deps.Log}, svc.Register)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }() // relay, consumers and the watch hub
	t.Cleanup(func() { cancel(); <-done })
	return &fixture{clock: clk, deps: deps, svc: svc, p: &inbox.Processor{DB: deps.DB, Consumer: "test", Apply: response.Apply(svc)},
		client: whistlev1.NewResponseServiceClient(conn)}
}

func (f *fixture) deliver(t *testing.T, ev *whistlev1.Event) string {
	t.Helper()
	outcome, err := f.p.Process(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return outcome
}

// dispatch puts a new ticket into dept's inbox at version 2, due to be accepted in acceptIn.
func (f *fixture) dispatch(t *testing.T, dept string, acceptIn time.Duration) string {
	t.Helper()
	id := ids.New()
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-1", Version: 2, OccurredAt: now,
		Producer: "dispatch"}, &whistlev1.TicketDispatched{
		LeadDepartmentId: dept, AcceptDue: timestamppb.New(now.Add(acceptIn)),
		ResolveDue: timestamppb.New(now.Add(72 * time.Hour)),
		Ticket: &whistlev1.Ticket{Id: id, Category: "road_damage", Description: "pothole",
			Location: &whistlev1.Location{GridId: "xc-hd-dj-g01"}},
	}))
	return id
}

func actor(dept string) *whistlev1.Actor {
	return &whistlev1.Actor{Id: "handler-1", OrgUnitId: dept, DisplayName: "Li"}
}

func (f *fixture) lastEvent(t *testing.T) *whistlev1.Event {
	t.Helper()
	evs := platformtest.Outbox(t, f.deps.DB)
	if len(evs) == 0 {
		t.Fatal("no event in the outbox")
	}
	return evs[len(evs)-1]
}

func (f *fixture) outboxCount(t *testing.T) int {
	var n int
	_ = f.deps.DB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox").Scan(&n)
	return n
}

func TestAcceptResolveReworkResolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.dispatch(t, "xc-urban", time.Hour)

	got, err := f.client.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: id})
	if err != nil || got.GetItem().GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED ||
		got.GetItem().GetDescription() != "pothole" || got.GetItem().GetLocation().GetGridId() != "xc-hd-dj-g01" {
		t.Fatalf("item %v, %v", got, err)
	}
	acc, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: actor("xc-urban")})
	if err != nil || acc.GetItem().GetVersion() != 3 {
		t.Fatalf("accept: %v, %v", acc, err)
	}
	if ev := f.lastEvent(t); ev.GetAccepted().GetDepartmentId() != "xc-urban" || ev.GetTicketVersion() != 3 ||
		ev.GetActor().GetId() != "handler-1" {
		t.Fatalf("accepted event %v", ev)
	}
	res, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-urban"), Result: "filled"})
	if err != nil || res.GetItem().GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_RESOLVED {
		t.Fatalf("resolve: %v, %v", res, err)
	}
	if ev := f.lastEvent(t); ev.GetResolved().GetResult() != "filled" || ev.GetTicketVersion() != 4 {
		t.Fatalf("resolved event %v", ev)
	}
	// Evaluation is unsatisfied: back to the same department with the reasons.
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, Version: 5, OccurredAt: now, Producer: "evaluation"},
		&whistlev1.TicketReopened{DepartmentId: "xc-urban", ReasonCodes: []string{"not_fixed"}, Comment: "still a hole", ReworkCount: 1}))
	got, _ = f.client.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: id})
	if it := got.GetItem(); it.GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_REOPENED || it.GetReworkCount() != 1 ||
		it.GetReworkComment() != "still a hole" || strings.Join(it.GetReworkReasons(), ",") != "not_fixed" {
		t.Fatalf("reopened item %v", it)
	}
	if _, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-urban"), Result: "really filled"}); err != nil {
		t.Fatal(err)
	}
	if ev := f.lastEvent(t); ev.GetTicketVersion() != 6 {
		t.Fatalf("second resolve produced v%d, want 6", ev.GetTicketVersion())
	}
	// Closed: out of the open inbox.
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, Version: 7, OccurredAt: now, Producer: "evaluation"}, &whistlev1.TicketClosed{}))
	list, err := f.client.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-urban"})
	if err != nil || len(list.GetItems()) != 0 {
		t.Fatalf("open inbox after close: %v, %v", list, err)
	}
}

func TestRefusedActionsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.dispatch(t, "xc-urban", time.Hour)
	tests := []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"resolve before accept", func() error {
			_, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-urban"), Result: "done"})
			return err
		}, codes.FailedPrecondition, "cannot resolve a DISPATCHED ticket"},
		{"another department accepts", func() error {
			_, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: actor("xc-water")})
			return err
		}, codes.PermissionDenied, "assigned to another department"},
		{"unknown ticket", func() error {
			_, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: ids.New(), Actor: actor("xc-urban")})
			return err
		}, codes.NotFound, "inbox"},
		{"ticket id not a uuid", func() error {
			_, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: "42", Actor: actor("xc-urban")})
			return err
		}, codes.InvalidArgument, "ticket_id"},
		{"no actor", func() error {
			_, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id})
			return err
		}, codes.InvalidArgument, "actor"},
		{"blank result", func() error {
			_, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-urban"), Result: " "})
			return err
		}, codes.InvalidArgument, "result"},
		{"empty result", func() error {
			_, err := f.client.Resolve(ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: actor("xc-urban")})
			return err
		}, codes.InvalidArgument, "result"},
		{"unknown status filter", func() error {
			_, err := f.client.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", Statuses: []whistlev1.TicketStatus{77}})
			return err
		}, codes.InvalidArgument, "statuses"},
		{"bad page token", func() error {
			_, err := f.client.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", PageToken: "djE6eA"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"no department", func() error {
			_, err := f.client.ListInbox(ctx, &whistlev1.ListInboxRequest{})
			return err
		}, codes.InvalidArgument, "department_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if status.Code(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want %s mentioning %q", err, tt.code, tt.msg)
			}
		})
	}
	if n := f.outboxCount(t); n != 0 {
		t.Fatalf("refused actions wrote %d events", n)
	}
	got, _ := f.client.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: id})
	if got.GetItem().GetVersion() != 2 || got.GetItem().GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED {
		t.Fatalf("item changed: %v", got.GetItem())
	}
}

func TestInboxIsSortedByDeadlineAndPaged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var want []string
	for i := 9; i >= 1; i-- { // dispatched latest-due first
		want = append([]string{f.dispatch(t, "xc-urban", time.Duration(i)*time.Hour)}, want...)
	}
	f.dispatch(t, "xc-water", time.Minute) // another department's
	var got []string
	token := ""
	for page := 0; page < 10; page++ {
		resp, err := f.client.ListInbox(ctx, &whistlev1.ListInboxRequest{DepartmentId: "xc-urban", PageSize: 4, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range resp.GetItems() {
			got = append(got, it.GetTicketId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("inbox order\n got %v\nwant %v", got, want)
	}
	// A re-delivered dispatch changes nothing.
	resp, _ := f.client.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: want[0]})
	before := proto.Clone(resp.GetItem())
	dup := events.MustNew(events.Meta{TicketID: want[0], Version: 2, OccurredAt: now, Producer: "dispatch"},
		&whistlev1.TicketDispatched{LeadDepartmentId: "xc-water"})
	if got := f.deliver(t, dup); got != inbox.OutcomeStale {
		t.Fatalf("repeated dispatch: %s", got)
	}
	resp, _ = f.client.GetInboxItem(ctx, &whistlev1.GetInboxItemRequest{TicketId: want[0]})
	if !proto.Equal(before, resp.GetItem()) {
		t.Fatalf("item changed by a stale event")
	}
}
