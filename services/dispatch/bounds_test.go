package dispatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/services/dispatch"
)

// extensionPending returns a ticket accepted by xc-urban whose department
// asks for three more days.
func (f *fixture) extensionPending(t *testing.T) string {
	t.Helper()
	id := ids.New()
	f.deliver(t, reported(id, "road_damage", "xc-hd-dj-g01"))
	f.deliver(t, moved(id, 3, &whistlev1.TicketAccepted{DepartmentId: "xc-urban"}))
	asked := f.assignment(t, id).GetResolveDue().AsTime().Add(72 * time.Hour)
	f.deliver(t, moved(id, 3, &whistlev1.TicketExtensionRequested{DepartmentId: "xc-urban",
		RequestedResolveDue: timestamppb.New(asked), Reason: "asphalt plant closed"}))
	return id
}

// TestOutOfBoundsRequestsChangeNothing sends requests dispatch would act on (a
// pending extension, a ticket in triage), each with one field out of its
// bound: every one is InvalidArgument naming the field, and no assignment or
// event changes.
func TestOutOfBoundsRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	ctx := context.Background()
	pending, triaged := f.extensionPending(t), ids.New()
	f.deliver(t, reported(triaged, "ufo_sighting", "xc-hd-dj-g02"))
	before := []*whistlev1.Assignment{f.assignment(t, pending), f.assignment(t, triaged)}
	events := len(f.events(t))
	decide := func(due *timestamppb.Timestamp, note string) func() error {
		return func() error {
			_, err := f.client.DecideExtension(ctx, &whistlev1.DecideExtensionRequest{TicketId: pending, Granted: true,
				ResolveDue: due, Note: note, Actor: officer("xc-hd")})
			return err
		}
	}
	byHand := func(lead string, assisting ...string) func() error {
		return func() error {
			_, err := f.client.Dispatch(ctx, &whistlev1.DispatchRequest{TicketId: triaged, LeadDepartmentId: lead,
				AssistingDepartmentIds: assisting, AcceptWithin: durationpb.New(time.Hour), ResolveWithin: durationpb.New(14 * time.Hour),
				Actor: officer("xc-hd")})
			return err
		}
	}
	year := func(y int) *timestamppb.Timestamp { return timestamppb.New(time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC)) }
	tests := []struct {
		name  string
		call  func() error
		field string // the status message names it
	}{
		{"extension granted to 9999", decide(year(9999), "ok"), "resolve_due"},
		{"extension granted beyond 9999", decide(&timestamppb.Timestamp{Seconds: 1 << 40}, "ok"), "resolve_due"},
		{"extension granted before 2000", decide(year(1999), "ok"), "resolve_due"},
		{"bidi override in a note", decide(nil, "granted \u202eon Friday"), "note"},
		{"an assisting department twice", byHand("xc-env", "xc-water", "xc-water"), "assisting_department_ids"},
		{"assisting department in capitals", byHand("xc-env", "XC-WATER"), "assisting_department_ids[0]"},
		{"lead department with a space", byHand("xc env"), "lead_department_id"},
		{"arbitrate for a department in capitals", func() error {
			_, err := f.client.Arbitrate(ctx, &whistlev1.ArbitrateRequest{TicketId: triaged, DepartmentId: "XC-ENV", Note: "env", Actor: officer("xc-hd")})
			return err
		}, "department_id"},
		{"explain a grid in capitals", func() error {
			_, err := f.client.ExplainRouting(ctx, &whistlev1.ExplainRoutingRequest{Category: "road_damage", GridId: "XC-HD-DJ-G01"})
			return err
		}, "grid_id"},
		{"triage of a unit with spaces", func() error {
			_, err := f.client.ListTriage(ctx, &whistlev1.ListTriageRequest{OrgUnitId: "xc hd"})
			return err
		}, "org_unit_id"},
		{"catalog version with spaces", func() error {
			_, err := f.client.GetCatalog(ctx, &whistlev1.GetCatalogRequest{Version: "2026 11"})
			return err
		}, "version"},
		{"catalog of more than 4,000,000 bytes", func() error {
			_, err := f.client.ImportCatalog(ctx, &whistlev1.ImportCatalogRequest{Source: "version: x\n#" + strings.Repeat("x", 4_000_000),
				Actor: officer("hh")})
			return err
		}, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { grpctest.WantInvalidArgument(t, tt.call(), tt.field) })
	}
	if n := len(f.events(t)); n != events {
		t.Fatalf("refused requests wrote %d events", n-events)
	}
	for i, id := range []string{pending, triaged} {
		if after := f.assignment(t, id); !proto.Equal(before[i], after) {
			t.Fatalf("assignment changed:\n before %v\n after  %v", before[i], after)
		}
	}
}

// TestBoundsLetRealDecisionsThrough: the longest windows a person may give
// and an extension granted four years ahead are accepted.
func TestBoundsLetRealDecisionsThrough(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	ctx := context.Background()
	pending := f.extensionPending(t)
	due := timestamppb.New(time.Now().AddDate(4, 0, 0).Truncate(time.Second))
	resp, err := f.client.DecideExtension(ctx, &whistlev1.DecideExtensionRequest{TicketId: pending, Granted: true, ResolveDue: due,
		Note: "同意延期", Actor: officer("xc-hd")})
	if err != nil || !resp.GetAssignment().GetResolveDue().AsTime().Equal(due.AsTime()) {
		t.Fatalf("granted until %v: %v, %v", due.AsTime(), resp, err)
	}
	triaged := ids.New()
	f.deliver(t, reported(triaged, "ufo_sighting", "xc-hd-dj-g02"))
	d, err := f.client.Dispatch(ctx, &whistlev1.DispatchRequest{TicketId: triaged, LeadDepartmentId: "xc-env",
		AcceptWithin: durationpb.New(30 * 24 * time.Hour), ResolveWithin: durationpb.New(365 * 24 * time.Hour), Actor: officer("xc-hd")})
	if err != nil || !d.GetAssignment().GetResolveDue().AsTime().After(now.AddDate(1, 0, 0)) {
		t.Fatalf("dispatched with the longest windows: %v, %v", d, err)
	}
}

// A catalog's version must be one the API can name.
func TestCatalogVersionsAreNameable(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"2026 秋", "-x", strings.Repeat("v", 65), ""} {
		src := strings.Replace(string(dispatch.SampleCatalog), `version: "2026.11-sample"`, `version: "`+v+`"`, 1)
		if _, err := dispatch.ParseCatalog([]byte(src)); err == nil || !strings.Contains(err.Error(), "version must be 1 to 64 ASCII letters") {
			t.Errorf("version %q: %v", v, err)
		}
	}
}
