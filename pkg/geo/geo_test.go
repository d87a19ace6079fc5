package geo_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/whistle-civic/whistle/pkg/geo"
)

func TestDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b geo.Point
		want float64 // metres
	}{
		{"the same place", geo.Point{Lat: 39.9042, Lng: 116.4074}, geo.Point{Lat: 39.9042, Lng: 116.4074}, 0},
		{"0.001° of latitude is 111 m", geo.Point{Lat: 39.9042, Lng: 116.4074}, geo.Point{Lat: 39.9052, Lng: 116.4074}, 111.2},
		{"Beijing to Shanghai", geo.Point{Lat: 39.9042, Lng: 116.4074}, geo.Point{Lat: 31.2304, Lng: 121.4737}, 1_067_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := geo.Distance(tc.a, tc.b); math.Abs(got-tc.want) > math.Max(0.5, tc.want*0.002) {
				t.Fatalf("Distance = %.1f m, want %.1f", got, tc.want)
			}
		})
	}
}

// TestCoverHoldsEveryPointWithinTheRadius: for random centres and points
// around them, every point within the radius has a cell in one of the
// cover's ranges (the index never misses a neighbour), and the ranges are
// few and tight (points far away mostly fall outside).
func TestCoverHoldsEveryPointWithinTheRadius(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	in := func(rs []geo.Range, c int64) bool {
		for _, r := range rs {
			if c >= r.Min && c <= r.Max {
				return true
			}
		}
		return false
	}
	far := 0
	for range 200 {
		centre := geo.Point{Lat: 20 + rng.Float64()*25, Lng: 100 + rng.Float64()*20}
		radius := 50 + rng.Float64()*950
		cover := geo.Cover(centre, radius)
		if len(cover) == 0 || len(cover) > 8 {
			t.Fatalf("cover of %v, %.0f m: %d ranges", centre, radius, len(cover))
		}
		for range 50 {
			p := geo.Point{Lat: centre.Lat + (rng.Float64()-0.5)*0.05, Lng: centre.Lng + (rng.Float64()-0.5)*0.05}
			d := geo.Distance(centre, p)
			switch covered := in(cover, geo.Cell(p)); {
			case d <= radius && !covered:
				t.Fatalf("%v is %.0f m from %v, within %.0f m, but no range holds its cell", p, d, centre, radius)
			case d > 4*radius && covered:
				far++
			}
		}
	}
	if far > 200 {
		t.Errorf("%d points over four radii away fall in the cover: it is too loose", far)
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	for _, p := range []geo.Point{{Lat: 91}, {Lat: -91}, {Lng: 181}, {Lat: math.NaN()}} {
		if p.Valid() {
			t.Errorf("%v is valid", p)
		}
	}
	if !(geo.Point{Lat: 39.9, Lng: 116.4}).Valid() {
		t.Error("Beijing is not valid")
	}
}

func TestWhere(t *testing.T) {
	t.Parallel()
	sql, args := geo.Where("cell", []geo.Range{{Min: 1, Max: 2}, {Min: -5, Max: -3}}, 2)
	if sql != "(cell BETWEEN $2 AND $3 OR cell BETWEEN $4 AND $5)" || len(args) != 4 || args[0] != int64(1) || args[3] != int64(-3) {
		t.Fatalf("Where = %q %v", sql, args)
	}
	if sql, args := geo.Where("cell", nil, 1); sql != "false" || args != nil {
		t.Fatalf("Where of no ranges = %q %v", sql, args)
	}
}
