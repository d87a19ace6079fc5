package geo_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// A city's open tickets: points over 0.5° × 0.5° around Beijing (about 43 ×
// 56 km) in 20 matters, indexed by (matter, cell) as a service would index them.
const (
	cityLat, cityLng = 39.7, 116.2
	matters          = 20
)

func cityPoint(rng *rand.Rand) geo.Point {
	return geo.Point{Lat: cityLat + rng.Float64()*0.5, Lng: cityLng + rng.Float64()*0.5}
}

// loadPoints creates the table and fills it with n random points.
func loadPoints(tb testing.TB, db *postgres.DB, n int, rng *rand.Rand) []geo.Point {
	tb.Helper()
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE points (id bigint PRIMARY KEY, matter int NOT NULL, cell bigint NOT NULL,
		lat float8 NOT NULL, lng float8 NOT NULL)`); err != nil {
		tb.Fatal(err)
	}
	pts := make([]geo.Point, n)
	rows := make([][]any, n)
	for i := range pts {
		pts[i] = cityPoint(rng)
		rows[i] = []any{int64(i), i % matters, geo.Cell(pts[i]), pts[i].Lat, pts[i].Lng}
	}
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"points"}, []string{"id", "matter", "cell", "lat", "lng"},
		pgx.CopyFromRows(rows)); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `CREATE INDEX points_cell_idx ON points (matter, cell); ANALYZE points`); err != nil {
		tb.Fatal(err)
	}
	return pts
}

// nearby asks the index for the points of a matter within radius of p:
// those in the cover's cell ranges, then the exact distance.
func nearby(tb testing.TB, db *postgres.DB, matter int, p geo.Point, radius float64) (ids []int64, scanned int) {
	tb.Helper()
	in, args := geo.Where("cell", geo.Cover(p, radius), 2)
	rows, err := db.Pool.Query(context.Background(), `SELECT id, lat, lng FROM points WHERE matter = $1 AND `+in,
		append([]any{matter}, args...)...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var q geo.Point
		if err := rows.Scan(&id, &q.Lat, &q.Lng); err != nil {
			tb.Fatal(err)
		}
		scanned++
		if geo.Distance(p, q) <= radius {
			ids = append(ids, id)
		}
	}
	if rows.Err() != nil {
		tb.Fatal(rows.Err())
	}
	slices.Sort(ids)
	return ids, scanned
}

// TestNearbyFindsExactlyThePointsWithinTheRadius: against real PostgreSQL,
// the index lookup returns exactly what comparing every point would.
func TestNearbyFindsExactlyThePointsWithinTheRadius(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "geo", nil)
	rng := rand.New(rand.NewPCG(3, 4))
	pts := loadPoints(t, db, 20_000, rng)
	for i := range 40 {
		p, matter, radius := cityPoint(rng), i%matters, []float64{100, 250, 1000, 3000}[i%4]
		got, _ := nearby(t, db, matter, p, radius)
		var want []int64
		for id, q := range pts {
			if id%matters == matter && geo.Distance(p, q) <= radius {
				want = append(want, int64(id))
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("matter %d within %.0f m of %v: the index found %v, every point compared %v", matter, radius, p, got, want)
		}
	}
}

// BenchmarkNearbyAtAMillion: one lookup of a matter's points within 250 m
// among a million open tickets (50,000 of that matter), with PostgreSQL on
// the same machine.
func BenchmarkNearbyAtAMillion(b *testing.B) {
	db := pgtest.Open(b, "geo", nil)
	rng := rand.New(rand.NewPCG(5, 6))
	loadPoints(b, db, 1_000_000, rng)
	var found, scanned int
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ids, n := nearby(b, db, i%matters, cityPoint(rng), 250)
		found, scanned = found+len(ids), scanned+n
	}
	b.ReportMetric(float64(found)/float64(b.N), "found/op")
	b.ReportMetric(float64(scanned)/float64(b.N), "rows-read/op")
}
