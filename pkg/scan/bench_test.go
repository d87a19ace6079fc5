package scan_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/scan"
)

// benchData returns 1,000 locations at random in a 20 km square and cases
// over 365 days: a uniform background and, for 1 % of them, a cluster
// around location 0 in the last 3 days.
func benchData(cases int) ([]geo.Point, []scan.Case) {
	const n, days, side = 1000, 365, 20_000.0
	rng := rand.New(rand.NewPCG(2005, 59))
	deg := geo.EarthRadius * math.Pi / 180
	locs := make([]geo.Point, n)
	for i := range locs {
		locs[i] = geo.Point{Lat: 39.8 + rng.Float64()*side/deg, Lng: 116.3 + rng.Float64()*side/deg/math.Cos(39.9*math.Pi/180)}
	}
	var near []int
	for j, p := range locs {
		if geo.Distance(locs[0], p) <= 1000 {
			near = append(near, j)
		}
	}
	cs := make([]scan.Case, cases)
	for i := range cs {
		if i%100 == 0 {
			cs[i] = scan.Case{Location: near[rng.IntN(len(near))], Day: days - 1 - rng.IntN(3)}
		} else {
			cs[i] = scan.Case{Location: rng.IntN(n), Day: rng.IntN(days)}
		}
	}
	return locs, cs
}

func BenchmarkScan(b *testing.B) {
	for _, cases := range []int{100_000, 1_000_000} {
		locs, cs := benchData(cases)
		for _, replicas := range []int{99, 999} {
			b.Run(fmt.Sprintf("cases=%d/replicas=%d", cases, replicas), func(b *testing.B) {
				p := scan.Params{MaxWindowDays: 7, MaxRadiusMeters: 2000, Replicas: replicas, Seed: 1}
				var res scan.Result
				for b.Loop() {
					var err error
					if res, err = scan.Scan(locs, cs, 365, p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(res.Candidates), "cylinders")
				if len(res.Clusters) > 0 {
					b.ReportMetric(res.Clusters[0].P, "p")
				}
			})
		}
	}
}
