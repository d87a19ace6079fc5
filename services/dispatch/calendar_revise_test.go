package dispatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/services/dispatch"
)

// TestCalendarRunningOutWarnsUntilNextYearIsAdded: the sample calendar lists
// 2026's holidays only, so in late November the calendar check warns (and
// stays passing) with the days ahead as its value; a revision adding 2027's
// days is stored as a new catalog version, audited, with its diff, and once
// active the warning is gone. New tickets skip the new holiday; a ticket
// routed before keeps the deadline it was given. Bad revisions change nothing.
func TestCalendarRunningOutWarnsUntilNextYearIsAdded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	// The calls go through a server that authenticates, as production's: a
	// revision is audited with who made it, and only an administrator may.
	keys := grpctest.NewKeys(t)
	client := whistlev1.NewDispatchServiceClient(grpctest.Serve(t, grpcserver.Options{Log: f.deps.Log, Auth: keys.Authenticator}, f.svc.Register))
	ctx := keys.As(context.Background(), "admin-1", auth.RoleAdmin, "hh")
	officer := keys.As(context.Background(), "officer-1", auth.RoleStreetOfficer, "xc-hd")
	if _, err := client.ReviseCalendar(officer, &whistlev1.ReviseCalendarRequest{Version: "2027.01", AddHolidays: []string{"2027-01-01"},
		Actor: &whistlev1.Actor{Id: "officer-1", OrgUnitId: "xc-hd"}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a street officer revising the calendar: %v; want PermissionDenied", err)
	}
	check := func() (float64, string) {
		t.Helper()
		res, err := f.svc.HealthChecks()["calendar"](ctx)
		if err != nil {
			t.Fatalf("calendar check failed: %v", err)
		}
		return res.Value, res.Warning
	}
	if days, warn := check(); days != 35 || !strings.Contains(warn, "covers only until 2026-12-31 (35 days ahead, fewer than 60)") ||
		!strings.Contains(warn, "whistlectl calendar add") {
		t.Fatalf("calendar check with 2026 only: %v days, %q", days, warn)
	}
	// On New Year's Eve at 16:00 a 2-hour accept window of the old calendar
	// runs into 1 January.
	f.clock.Set(time.Date(2026, 12, 31, 16, 0, 0, 0, cst))
	before := ids.New()
	f.deliver(t, reported(before, "road_damage", "xc-hd-dj-g01"))

	for _, bad := range []struct {
		name string
		req  *whistlev1.ReviseCalendarRequest
		code codes.Code
		want string
	}{
		{"a day not listed removed", &whistlev1.ReviseCalendarRequest{Version: "2027.01", Remove: []string{"2026-03-03"}, Actor: admin},
			codes.InvalidArgument, "nothing to remove"},
		{"nothing new", &whistlev1.ReviseCalendarRequest{Version: "2027.01", AddHolidays: []string{"2026-10-01"}, Actor: admin},
			codes.InvalidArgument, "changes nothing"},
		{"no date", &whistlev1.ReviseCalendarRequest{Version: "2027.01", AddHolidays: []string{"2027-02-30"}, Actor: admin},
			codes.InvalidArgument, `"2027-02-30" is not a date`},
		{"not shaped as a date", &whistlev1.ReviseCalendarRequest{Version: "2027.01", AddHolidays: []string{"1 Jan"}, Actor: admin},
			codes.InvalidArgument, "add_holidays"},
		{"a version taken", &whistlev1.ReviseCalendarRequest{Version: "2026.11-sample", AddHolidays: []string{"2027-01-01"}, Actor: admin},
			codes.AlreadyExists, "versions are immutable"},
	} {
		_, err := client.ReviseCalendar(ctx, bad.req)
		if status.Code(err) != bad.code || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("%s: %v; want %s with %q", bad.name, err, bad.code, bad.want)
		}
	}
	if list, err := client.ListCatalogs(ctx, &whistlev1.ListCatalogsRequest{}); err != nil || len(list.GetVersions()) != 1 {
		t.Fatalf("after refused revisions: %v, %v; want the sample catalog only", list, err)
	}

	resp, err := client.ReviseCalendar(ctx, &whistlev1.ReviseCalendarRequest{Version: "2027.01",
		AddHolidays: []string{"2027-01-01", "2027-02-05", "2027-02-08"}, AddMakeUpDays: []string{"2027-02-07"},
		Activate: true, Actor: admin})
	if err != nil {
		t.Fatal(err)
	}
	cal := resp.GetCalendar()
	if !resp.GetVersion().GetActive() || resp.GetRevised() != "2026.11-sample" || cal.GetCoversUntil() != "2027-12-31" ||
		cal.GetDaysAhead() != 365 || len(resp.GetChanges()) != 1 ||
		resp.GetChanges()[0].GetDetail() != "holidays +2027-01-01 +2027-02-05 +2027-02-08; make_up_days +2027-02-07" {
		t.Fatalf("revision: %v", resp)
	}
	if days, warn := check(); days != 365 || warn != "" {
		t.Fatalf("calendar check with 2027 added: %v days, %q; want no warning", days, warn)
	}
	active, err := client.GetCatalog(ctx, &whistlev1.GetCatalogRequest{})
	if err != nil || active.GetVersion() != "2027.01" || !strings.Contains(active.GetSource(), "# Business calendar.") ||
		!strings.Contains(active.GetSource(), `version: "2027.01"`) {
		t.Fatalf("active catalog %s: the revised source keeps the catalog's comments? %v", active.GetVersion(), err)
	}
	var audited int
	if err := f.deps.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM audit WHERE action = 'catalog.import' AND detail = '2027.01' AND subject = 'admin-1'`).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("audit rows of the revision: %d, %v", audited, err)
	}

	after := ids.New()
	f.deliver(t, reported(after, "road_damage", "xc-hd-dj-g01"))
	oldDue := f.assignment(t, before).GetAcceptDue().AsTime().In(cst)
	newDue := f.assignment(t, after).GetAcceptDue().AsTime().In(cst)
	if want := time.Date(2027, 1, 1, 9, 30, 0, 0, cst); !oldDue.Equal(want) {
		t.Fatalf("the ticket routed before keeps its deadline: %s, want %s", oldDue, want)
	}
	if want := time.Date(2027, 1, 4, 9, 30, 0, 0, cst); !newDue.Equal(want) {
		t.Fatalf("a ticket routed after skips the new holiday: %s, want %s", newDue, want)
	}
}
