package stack_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// importYear is a year of a large city's history (the seed's ~25,000
// tickets): closed tickets spread evenly over 2025, across the sample
// catalog's 24 grids and 15 of its matters, each handled by its district's
// department.
func importYear(n int, prefix string) []*whistlev1.ImportedTicket {
	grids := []string{"xc-hd-dj-g01", "xc-hd-dj-g02", "xc-hd-wy-g01", "xc-hd-wy-g02", "xc-xh-jy-g01", "xc-xh-jy-g02", "xc-xh-hp-g01",
		"xc-xh-hp-g02", "hn-bt-lq-g01", "hn-bt-lq-g02", "hn-bt-yh-g01", "hn-bt-yh-g02", "hn-qs-bh-g01", "hn-qs-bh-g02", "hn-qs-fx-g01",
		"hn-qs-fx-g02", "yq-ht-dls-g01", "yq-ht-dls-g02", "yq-ht-wjy-g01", "yq-ht-wjy-g02", "yq-sl-hsl-g01", "yq-sl-hsl-g02",
		"yq-sl-xyz-g01", "yq-sl-xyz-g02"}
	matters := []struct{ code, dept string }{{"road_damage", "urban"}, {"manhole_cover_missing", "urban"}, {"street_light_out", "urban"},
		{"water_leak", "water"}, {"drain_blocked", "water"}, {"garbage_overflow", "urban"}, {"street_vendor_occupation", "urban"},
		{"illegal_advertising", "urban"}, {"green_space_damage", "urban"}, {"roof_leak", "housing"}, {"dilapidated_house", "housing"},
		{"noise_construction", "env"}, {"noise_commercial", "env"}, {"river_pollution", "env"}, {"food_safety", "market"}}
	start := time.Date(2025, 1, 1, 9, 0, 0, 0, cst)
	out := make([]*whistlev1.ImportedTicket, n)
	for i := range out {
		at := start.Add(time.Duration(i) * (365 * 24 * time.Hour / time.Duration(n))) // i·year would overflow a Duration
		ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(at.Add(d)) }
		grid, m := grids[i%len(grids)], matters[(i/len(grids))%len(matters)]
		dept := strings.SplitN(grid, "-", 2)[0] + "-" + m.dept
		out[i] = &whistlev1.ImportedTicket{ExternalId: fmt.Sprintf("%s-%06d", prefix, i), Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
			Source: whistlev1.Source_SOURCE_HOTLINE_12345, Category: m.code, Description: "历史工单 " + fmt.Sprint(i),
			Location: &whistlev1.Location{GridId: grid}, Reporter: &whistlev1.Reporter{OrgUnitId: grid},
			ReportedAt: ts(0), History: []*whistlev1.ImportedStep{
				{Action: whistlev1.ImportedAction_IMPORTED_ACTION_DISPATCHED, At: ts(time.Minute), DepartmentId: dept,
					AcceptDue: ts(2 * time.Hour), ResolveDue: ts(72 * time.Hour)},
				{Action: whistlev1.ImportedAction_IMPORTED_ACTION_ACCEPTED, At: ts(30 * time.Minute)},
				{Action: whistlev1.ImportedAction_IMPORTED_ACTION_RESOLVED, At: ts(26 * time.Hour), Note: "done"},
				{Action: whistlev1.ImportedAction_IMPORTED_ACTION_EVALUATED, At: ts(30 * time.Hour), Verdict: whistlev1.Verdict_VERDICT_SATISFIED},
			}}
	}
	return out
}

// BenchmarkImportTickets imports WHISTLE_BENCH_IMPORT_TICKETS historical
// tickets (default 5,000; a year of a large city is 25,000) into a real
// stack through ImportTickets in batches of 500, as whistlectl does,
// and reports the import's rate (tickets/s until intake committed) and the
// rate at which monitoring then projected them (projected/s, from the start
// of the import until the last one counts).
func BenchmarkImportTickets(b *testing.B) {
	year := 5_000
	if n, err := strconv.Atoi(os.Getenv("WHISTLE_BENCH_IMPORT_TICKETS")); err == nil && n > 0 {
		year = n
	}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		r := stacktest.Start(b)
		file := importYear(year, fmt.Sprint("bench", i))
		admin, monitor := r.As(auth.RoleAdmin, r.City), r.As(auth.RoleMonitor, r.City)
		b.StartTimer()
		start := time.Now()
		stream, err := admin.Intake.ImportTickets(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < len(file); j += 500 {
			if err := stream.Send(&whistlev1.ImportTicketsRequest{Tickets: file[j:min(j+500, len(file))]}); err != nil {
				break
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil || resp.GetImported() != int64(year) {
			b.Fatalf("import: %v %v", resp, err)
		}
		imported := time.Since(start)
		for {
			c, err := monitor.Monitoring.GetCounts(ctx, &whistlev1.GetCountsRequest{})
			if err == nil && c.GetTotal() == int64(year) {
				break
			}
			time.Sleep(50 * time.Millisecond) // a benchmark's own wait: how long monitoring takes is what it measures
		}
		b.ReportMetric(float64(year)/imported.Seconds(), "tickets/s")
		b.ReportMetric(float64(year)/time.Since(start).Seconds(), "projected/s")
	}
}
