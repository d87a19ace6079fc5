package intake_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
)

// TestOutOfBoundsRequestsChangeNothing: each request has one field out of its
// bound and is InvalidArgument naming the field, never Internal; no ticket and
// no event is written.
func TestOutOfBoundsRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	report := func(m func(r *whistlev1.ReportRequest)) func() error {
		return func() error {
			r := validReport("bounds")
			m(r)
			_, err := f.client.Report(ctx, r)
			return err
		}
	}
	list := func(r *whistlev1.ListTicketsRequest) func() error {
		return func() error { _, err := f.client.ListTickets(ctx, r); return err }
	}
	at := func(y int) *timestamppb.Timestamp { return timestamppb.New(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)) }
	tests := []struct {
		name  string
		call  func() error
		field string // the status message names it
	}{
		{"bidi override in a description", report(func(r *whistlev1.ReportRequest) {
			r.Description = "漏水 \u202e已修好\u202c"
		}), "description"},
		{"bidi isolate in a name", report(func(r *whistlev1.ReportRequest) { r.Reporter.Name = "Wang \u2066admin\u2069" }), "reporter.name"},
		{"bidi embedding in an address", report(func(r *whistlev1.ReportRequest) { r.Location.Address = "\u202bNo. 12" }), "location.address"},
		{"latitude NaN", report(func(r *whistlev1.ReportRequest) { r.Location.Coordinates.Latitude = math.NaN() }), "latitude"},
		{"longitude infinite", report(func(r *whistlev1.ReportRequest) { r.Location.Coordinates.Longitude = math.Inf(1) }), "longitude"},
		{"title of 201 characters", report(func(r *whistlev1.ReportRequest) { r.Title = strings.Repeat("坑", 201) }), "title"},
		{"description of 4001 characters", report(func(r *whistlev1.ReportRequest) { r.Description = strings.Repeat("坑", 4001) }), "description"},
		{"reported_after in 9999", list(&whistlev1.ListTicketsRequest{ReportedAfter: at(9999)}), "reported_after"},
		{"reported_after beyond 9999", list(&whistlev1.ListTicketsRequest{ReportedAfter: &timestamppb.Timestamp{Seconds: 1 << 40}}), "reported_after"},
		{"reported_after before 2000", list(&whistlev1.ListTicketsRequest{ReportedAfter: at(1999)}), "reported_after"},
		{"reported_before far in the past", list(&whistlev1.ListTicketsRequest{ReportedBefore: &timestamppb.Timestamp{Seconds: -1 << 40}}), "reported_before"},
		{"reported_before not after reported_after", list(&whistlev1.ListTicketsRequest{ReportedAfter: at(2026), ReportedBefore: at(2025)}), "reported_before"},
		{"category filter with capitals", list(&whistlev1.ListTicketsRequest{Category: "Road Damage"}), "category"},
		{"reporter filter with spaces", list(&whistlev1.ListTicketsRequest{ReporterOrgUnitId: "xc hd"}), "reporter_org_unit_id"},
		{"page token with other characters", list(&whistlev1.ListTicketsRequest{PageToken: "djE6eA=="}), "page_token"},
		{"ticket with spaces", func() error {
			_, err := f.client.GetTicket(ctx, &whistlev1.GetTicketRequest{Ticket: "HH 20261126 00001"})
			return err
		}, "ticket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { grpctest.WantInvalidArgument(t, tt.call(), tt.field) })
	}
	if n := f.count(t, "tickets") + f.count(t, "outbox"); n != 0 {
		t.Fatalf("refused requests wrote %d rows", n)
	}
}

// TestBoundsLetRealReportsThrough: a report at every bound a resident may
// reach in Chinese, and the widest window of a list, are accepted.
func TestBoundsLetRealReportsThrough(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := validReport("cjk")
	r.Title = strings.Repeat("路", 200)
	r.Description = strings.Repeat("路面塌陷，", 800) // 4000 characters, 12,000 bytes
	r.Location.Address = strings.Repeat("东", 500)
	r.Reporter.Name = strings.Repeat("王", 100)
	resp, err := f.client.Report(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTicket().GetDescription() != r.Description {
		t.Fatal("description changed on the way")
	}
	list, err := f.client.ListTickets(ctx, &whistlev1.ListTicketsRequest{
		ReportedAfter: timestamppb.New(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), ReportedBefore: timestamppb.New(time.Now().AddDate(4, 0, 0))})
	if err != nil || len(list.GetTickets()) != 1 {
		t.Fatalf("list over the widest window: %v, %v", list, err)
	}
}
