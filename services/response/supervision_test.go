package response_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func (f *fixture) item(t *testing.T, id string) *whistlev1.InboxItem {
	t.Helper()
	resp, err := f.client.GetInboxItem(context.Background(), &whistlev1.GetInboxItemRequest{TicketId: id})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetItem()
}

func TestReturnAndArbitrationBinds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.dispatch(t, "xc-water", time.Hour)
	ret := func(dept string) error {
		_, err := f.client.Return(ctx, &whistlev1.ReturnRequest{TicketId: id, ReasonCode: whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION,
			Note: "drains are urban management's", Actor: actor(dept)})
		return err
	}
	if err := ret("xc-urban"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("return by another department: %v", err)
	}
	if err := ret("xc-water"); err != nil {
		t.Fatal(err)
	}
	if ev := f.lastEvent(t); ev.GetReturned().GetReasonCode() != whistlev1.ReturnReason_RETURN_REASON_NOT_OUR_JURISDICTION || ev.GetTicketVersion() != 3 {
		t.Fatalf("returned event %v", ev)
	}
	// Arbitration (v5, after dispatch's triage v4) assigns it to urban management, bindingly.
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, TicketNumber: "HH-1", Version: 5, OccurredAt: now, Producer: "dispatch"},
		&whistlev1.TicketArbitrated{DepartmentId: "xc-urban", DecidedByOrgUnitId: "xc-hd",
			AcceptDue: timestamppb.New(now.Add(time.Hour)), ResolveDue: timestamppb.New(now.Add(48 * time.Hour))}))
	it := f.item(t, id)
	if it.GetDepartmentId() != "xc-urban" || !it.GetBinding() || it.GetStatus() != whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED ||
		it.GetDescription() != "pothole" {
		t.Fatalf("arbitrated item %v", it)
	}
	if err := ret("xc-urban"); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "binds") {
		t.Fatalf("returning an arbitrated ticket: %v", err)
	}
}

func TestClockAndExtensionRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	id := f.dispatch(t, "xc-urban", time.Hour) // resolve due now+72h
	progress := func(clock whistlev1.ClockChange) error {
		_, err := f.client.AddProgress(ctx, &whistlev1.AddProgressRequest{TicketId: id, Note: "waiting for the resident",
			Clock: clock, Actor: actor("xc-urban")})
		return err
	}
	extend := func(due time.Time) error {
		_, err := f.client.RequestExtension(ctx, &whistlev1.RequestExtensionRequest{TicketId: id,
			RequestedResolveDue: timestamppb.New(due), Reason: "asphalt plant closed", Actor: actor("xc-urban")})
		return err
	}
	if err := progress(whistlev1.ClockChange_CLOCK_CHANGE_PAUSE); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("pause before accepting: %v", err)
	}
	if err := progress(0); err != nil { // a plain note is fine while dispatched
		t.Fatal(err)
	}
	if _, err := f.client.Accept(ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: actor("xc-urban")}); err != nil {
		t.Fatal(err)
	}
	if err := progress(whistlev1.ClockChange_CLOCK_CHANGE_RESUME); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("resume a running clock: %v", err)
	}
	if err := progress(whistlev1.ClockChange_CLOCK_CHANGE_PAUSE); err != nil {
		t.Fatal(err)
	}
	if ev := f.lastEvent(t); ev.GetProgressed().GetClock() != whistlev1.ClockChange_CLOCK_CHANGE_PAUSE || ev.GetTicketVersion() != 3 || !f.item(t, id).GetPaused() {
		t.Fatalf("pause: %v", ev)
	}
	if err := extend(now.Add(100 * time.Hour)); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("extension while paused: %v", err)
	}
	if err := progress(whistlev1.ClockChange_CLOCK_CHANGE_RESUME); err != nil {
		t.Fatal(err)
	}
	if err := extend(now.Add(time.Hour)); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("extension to an earlier date: %v", err)
	}
	if err := extend(now.Add(100 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := extend(now.Add(120 * time.Hour)); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a second pending extension: %v", err)
	}
	// The street grants it: the deadline moves; a later request may follow.
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, Version: 3, OccurredAt: now, Producer: "dispatch"},
		&whistlev1.TicketExtensionDecided{Granted: true, ResolveDue: timestamppb.New(now.Add(100 * time.Hour))}))
	f.deliver(t, events.MustNew(events.Meta{TicketID: id, Version: 3, OccurredAt: now, Producer: "dispatch"},
		&whistlev1.TicketEscalated{Level: 2, Stage: "accept"}))
	it := f.item(t, id)
	if !it.GetResolveDue().AsTime().Equal(now.Add(100*time.Hour)) || it.GetExtensionRequestedDue() != nil || it.GetEscalationLevel() != 2 {
		t.Fatalf("after the decision: %v", it)
	}
	f.clock.Advance(101 * time.Hour)
	if err := extend(now.Add(200 * time.Hour)); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "deadline has passed") {
		t.Fatalf("extension after the deadline: %v", err)
	}
}
