package stack_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestOpen311KeyIsTheReporter: a call made with an Open311 key reports for
// the key's unit with the key's source, whatever the request claims; the
// key reports only inside its unit, may not read, and stops working when
// revoked.
func TestOpen311KeyIsTheReporter(t *testing.T) {
	t.Parallel()
	r := stacktest.Start(t)
	admin := r.As(auth.RoleAdmin, r.City)
	added, err := admin.Open311.AddOpen311Key(t.Context(), &whistlev1.AddOpen311KeyRequest{Name: "东街社区小程序", OrgUnitId: "xc-hd-dj",
		Actor: &whistlev1.Actor{Id: "admin-1", OrgUnitId: r.City}})
	if err != nil {
		t.Fatal(err)
	}
	withKey := metadata.AppendToOutgoingContext(t.Context(), auth.APIKeyHeader, added.GetSecret())
	report := func(grid, key string) (*whistlev1.ReportResponse, error) {
		return r.Clients.Intake.Report(withKey, &whistlev1.ReportRequest{IdempotencyKey: key, Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source: whistlev1.Source_SOURCE_HOTLINE_12345, Category: "road_damage", Description: "路面塌陷",
			Location: &whistlev1.Location{GridId: grid}, Reporter: &whistlev1.Reporter{OrgUnitId: r.City}})
	}
	resp, err := report("xc-hd-dj-g02", "k-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetTicket(); got.GetReporter().GetOrgUnitId() != "xc-hd-dj" || got.GetSource() != whistlev1.Source_SOURCE_RESIDENT {
		t.Fatalf("reported for %s via %s; want the key's unit xc-hd-dj and source resident, not what the request claimed",
			got.GetReporter().GetOrgUnitId(), got.GetSource())
	}
	tests := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"outside the key's unit", func() error { _, err := report("xc-hd-wy-g01", "k-2"); return err }, codes.PermissionDenied},
		{"reading with a key", func() error {
			_, err := r.Clients.Intake.GetTicket(withKey, &whistlev1.GetTicketRequest{Ticket: resp.GetTicket().GetId()})
			return err
		}, codes.PermissionDenied},
		{"another service with a key", func() error {
			_, err := r.Clients.Monitoring.GetCounts(withKey, &whistlev1.GetCountsRequest{})
			return err
		}, codes.PermissionDenied},
	}
	for _, tt := range tests {
		if err := tt.call(); status.Code(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if _, err := admin.Open311.RevokeOpen311Key(t.Context(), &whistlev1.RevokeOpen311KeyRequest{Id: added.GetKey().GetId(),
		Actor: &whistlev1.Actor{Id: "admin-1", OrgUnitId: r.City}}); err != nil {
		t.Fatal(err)
	}
	if _, err := report("xc-hd-dj-g02", "k-3"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a revoked key: %v, want Unauthenticated", err)
	}
}
