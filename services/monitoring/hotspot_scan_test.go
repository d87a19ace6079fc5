package monitoring_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/scan"
	"github.com/whistle-civic/whistle/services/monitoring"
)

// side is the number of rows and columns of the test district's grids,
// about 400 m apart, a community for each row.
const side = 10

func scanGrid(r, c int) string { return fmt.Sprintf("sc-g%02d%02d", r, c) }

// scanTree announces a district of side×side grids with each grid's centre.
func scanTree(t testing.TB, deps platform.Deps, side int) {
	t.Helper()
	units := []*whistlev1.OrgNode{{Id: "sc", Level: "city"}, {Id: "sc-d", ParentId: "sc", Level: "district"},
		{Id: "sc-d-s", ParentId: "sc-d", Level: "street"}}
	for r := range side {
		community := fmt.Sprintf("sc-d-s-c%02d", r)
		units = append(units, &whistlev1.OrgNode{Id: community, ParentId: "sc-d-s", Level: "community"})
		for c := range side {
			units = append(units, &whistlev1.OrgNode{Id: scanGrid(r, c), ParentId: community, Level: "grid",
				Centre: &whistlev1.Coordinates{Latitude: 39.9 + float64(r)*0.0036, Longitude: 116.4 + float64(c)*0.0047}})
		}
	}
	ev := events.MustNew(events.Meta{OccurredAt: scanNow, Producer: "test"}, &whistlev1.OrgTree{CatalogVersion: "scan-test", Units: units})
	if _, err := deps.Tree().Apply(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

var scanNow = time.Date(2026, 11, 26, 20, 0, 0, 0, cst)

// history records reports of drain_blocked: Poisson background in every
// grid for 120 days before now (busier in the first row: a busy place is
// no hot spot by itself), and extra reports in planted grids on the last days.
func history(t *testing.T, deps platform.Deps, seed uint64, planted map[string]int, plantedDays int, now time.Time) {
	t.Helper()
	background(t, deps, seed, side, 120, 0.15, 1.2, planted, plantedDays, now)
}

// background records Poisson reports of drain_blocked in side×side grids
// for days before now at rate a grid and day (busy in the first row), and
// the planted ones.
func background(t testing.TB, deps platform.Deps, seed uint64, side, days int, rate, busy float64, planted map[string]int,
	plantedDays int, now time.Time) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var ids, grids, communities []string
	var at []time.Time
	add := func(r, c int, when time.Time) {
		ids, grids = append(ids, uuid.NewString()), append(grids, scanGrid(r, c))
		communities, at = append(communities, fmt.Sprintf("sc-d-s-c%02d", r)), append(at, when)
	}
	for d := range days {
		day := now.AddDate(0, 0, -d)
		for r := range side {
			for c := range side {
				rate := rate
				if r == 0 {
					rate = busy
				}
				for range poisson(rng, rate) {
					add(r, c, day.Add(-time.Duration(rng.IntN(10*3600))*time.Second))
				}
			}
		}
	}
	for g, n := range planted {
		var r, c int
		fmt.Sscanf(g, "sc-g%02d%02d", &r, &c)
		for d := range plantedDays {
			for i := range n {
				add(r, c, now.AddDate(0, 0, -d).Add(-time.Duration(i+1)*time.Minute))
			}
		}
	}
	for i := 0; i < len(ids); i += 100_000 {
		j := min(i+100_000, len(ids))
		_, err := deps.DB.Pool.Exec(context.Background(), `INSERT INTO recent_reports (ticket_id, category, grid_id, community, district, reported_at, area_ids)
			SELECT id, 'drain_blocked', g, co, 'sc-d', t, ARRAY[g, co, 'sc-d-s', 'sc-d', 'sc']
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS r(id, g, co, t)`, ids[i:j], grids[i:j], communities[i:j], at[i:j])
		if err != nil {
			t.Fatal(err)
		}
	}
}

// poisson draws a Poisson count (Knuth's method; small rates only).
func poisson(rng *rand.Rand, rate float64) int {
	l, k, p := math.Exp(-rate), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func scanService(t *testing.T) (platform.Deps, *monitoring.Service, whistlev1.MonitoringServiceClient) {
	t.Helper()
	deps := platformtest.Deps(t, monitoring.Name, monitoring.Migrations(), nil, nil)
	svc, err := monitoring.New(deps, monitoring.Config{HotSpots: monitoring.HotSpotConfig{Scan: monitoring.ScanConfig{
		Params: scan.Params{Replicas: 199}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, client := monitorWith(t, deps, svc)
	scanTree(t, deps, side)
	return deps, svc, client
}

func proactiveEvents(t *testing.T, deps platform.Deps) []*whistlev1.HotSpotDetected {
	var out []*whistlev1.HotSpotDetected
	for _, ev := range platformtest.Outbox(t, deps.DB) {
		if h := ev.GetProactive(); h != nil {
			out = append(out, h)
		}
	}
	return out
}

// TestScanRaisesOneHotSpotPerClusterAndUpdatesItAsItGrows: a drain blocked
// again and again in two neighbouring grids over three days is found, with
// its cylinder and statistic explained; the busy first row is not; a day
// later the cluster has grown and its hot spot is updated, not raised again.
func TestScanRaisesOneHotSpotPerClusterAndUpdatesItAsItGrows(t *testing.T) {
	t.Parallel()
	deps, svc, client := scanService(t)
	planted := map[string]int{scanGrid(5, 5): 3, scanGrid(5, 6): 2}
	history(t, deps, 1, planted, 3, scanNow)
	found, err := svc.ScanHotSpots(context.Background(), scanNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("%d clusters found, want the planted one: %+v", len(found), found)
	}
	resp, err := client.ListHotSpots(context.Background(), &whistlev1.ListHotSpotsRequest{})
	if err != nil || len(resp.GetHotSpots()) != 1 {
		t.Fatalf("hot spots %v, %v; want one", resp.GetHotSpots(), err)
	}
	h := resp.GetHotSpots()[0]
	sc := h.GetScan()
	if h.GetRule() != "scan" || !slices.Contains(sc.GetGridIds(), scanGrid(5, 5)) || !slices.Contains(sc.GetGridIds(), scanGrid(5, 6)) ||
		sc.GetPValue() > 0.01 || sc.GetObserved() < 15 || sc.GetExpected() >= float64(sc.GetObserved())/3 || sc.GetWindowDays() < 3 {
		t.Fatalf("hot spot %v, want the planted grids sc-g0505 and sc-g0506, p ≤ 0.01, at least 15 reports against far fewer expected", h)
	}
	for _, g := range sc.GetGridIds() {
		if strings.HasPrefix(g, "sc-g00") {
			t.Errorf("the busy first row's grid %s is in the cluster %v", g, sc.GetGridIds())
		}
	}
	if !strings.Contains(h.GetExplanation(), "p = ") || !strings.Contains(h.GetExplanation(), "expected") || len(h.GetTicketIds()) < 15 {
		t.Errorf("explanation %q with %d tickets", h.GetExplanation(), len(h.GetTicketIds()))
	}
	if asked := proactiveEvents(t, deps); len(asked) != 1 || asked[0].GetHotSpotId() != h.GetId() || asked[0].GetGridId() != sc.GetCentreGridId() {
		t.Fatalf("proactive events %v, want one for %s in %s", asked, h.GetId(), sc.GetCentreGridId())
	}

	// A day later: more of the same, the cluster grows; one hot spot still.
	later := scanNow.AddDate(0, 0, 1)
	history(t, deps, 2, planted, 1, later)
	if _, err := svc.ScanHotSpots(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	resp, err = client.ListHotSpots(context.Background(), &whistlev1.ListHotSpotsRequest{})
	if err != nil || len(resp.GetHotSpots()) != 1 {
		t.Fatalf("hot spots %v, %v; want still one", resp.GetHotSpots(), err)
	}
	grown := resp.GetHotSpots()[0]
	if grown.GetId() != h.GetId() || len(grown.GetTicketIds()) <= len(h.GetTicketIds()) ||
		!grown.GetScan().GetUpdatedAt().AsTime().Equal(later) {
		t.Fatalf("after a day: %v, want %s updated at %s with more than %d tickets", grown, h.GetId(), later, len(h.GetTicketIds()))
	}
	if asked := proactiveEvents(t, deps); len(asked) != 1 {
		t.Fatalf("%d proactive events after the cluster grew, want still one", len(asked))
	}

	// The month's 每月一题 candidates rank it among the district's clusters.
	p := &inbox.Processor{DB: deps.DB, Consumer: monitoring.Name, Apply: monitoring.Apply(svc)}
	counted := &story{id: ids.New(), grid: scanGrid(5, 5), area: []string{scanGrid(5, 5), "sc-d-s-c05", "sc-d-s", "sc-d", "sc"}}
	counted.add(scanNow, &whistlev1.TicketReported{Ticket: &whistlev1.Ticket{Id: counted.id, Category: "drain_blocked",
		ReportedAt: timestamppb.New(scanNow), Location: &whistlev1.Location{GridId: counted.grid},
		Reporter: &whistlev1.Reporter{OrgUnitId: counted.grid}}}).dispatch("sc-water", scanNow)
	project(t, p, counted)
	top, err := client.GetTopProblems(context.Background(), &whistlev1.GetTopProblemsRequest{DistrictId: "sc-d", Month: "2026-11"})
	if err != nil || len(top.GetClusters()) != 1 || top.GetClusters()[0].GetId() != h.GetId() {
		t.Fatalf("top problems of sc-d: %v, %v; want the cluster %s", top, err, h.GetId())
	}
}

// TestScanFindsNothingInNullData: the same city without a planted problem,
// busy row and all, raises no hot spot.
func TestScanFindsNothingInNullData(t *testing.T) {
	t.Parallel()
	deps, svc, _ := scanService(t)
	history(t, deps, 3, nil, 0, scanNow)
	found, err := svc.ScanHotSpots(context.Background(), scanNow)
	if err != nil || len(found) != 0 {
		t.Fatalf("null data: %+v, %v; want no hot spot", found, err)
	}
	if asked := proactiveEvents(t, deps); len(asked) != 0 {
		t.Fatalf("null data asked for %d proactive tickets", len(asked))
	}
}

// BenchmarkScanHotSpots measures one scan round of a matter as the service
// runs it, against PostgreSQL: its study period's reports counted by grid and
// day, the statistic with 999 replicas, and the clusters recorded. The city
// has 1,024 grids about 400 m apart and a million reports over 365 days
// (2.7 a grid and day on average, 8 in the busy first row), and a planted
// cluster.
func BenchmarkScanHotSpots(b *testing.B) {
	deps := platformtest.Deps(b, monitoring.Name, monitoring.Migrations(), nil, nil)
	svc, err := monitoring.New(deps, monitoring.Config{})
	if err != nil {
		b.Fatal(err)
	}
	scanTree(b, deps, 32)
	background(b, deps, 7, 32, 365, 2.6, 8, map[string]int{scanGrid(16, 16): 12, scanGrid(16, 17): 10}, 3, scanNow)
	var n int64
	if err := deps.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM recent_reports`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n), "reports")
	for b.Loop() {
		found, err := svc.ScanHotSpots(context.Background(), scanNow)
		if err != nil || len(found) == 0 {
			b.Fatalf("%v, %v: want the planted cluster", found, err)
		}
	}
}
