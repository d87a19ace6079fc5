package scan_test

import (
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/scan"
)

// line returns n locations due north of each other, step metres apart.
func line(n int, step float64) []geo.Point {
	pts := make([]geo.Point, n)
	for i := range pts {
		pts[i] = geo.Point{Lat: 30 + float64(i)*step/(geo.EarthRadius*math.Pi/180), Lng: 120}
	}
	return pts
}

// fromCounts returns counts[l][d] cases at location l on day d.
func fromCounts(counts [][]int) []scan.Case {
	var cases []scan.Case
	for l, row := range counts {
		for d, n := range row {
			for range n {
				cases = append(cases, scan.Case{Location: l, Day: d})
			}
		}
	}
	return cases
}

// llr is the statistic, written as in the paper.
func llr(c int, mu float64, total int) float64 {
	if float64(c) <= mu {
		return 0
	}
	v := float64(c) * math.Log(float64(c)/mu)
	if c < total {
		v += float64(total-c) * math.Log(float64(total-c)/(float64(total)-mu))
	}
	return v
}

func TestHandComputedClusters(t *testing.T) {
	t.Parallel()
	type want struct {
		locs       []int // sorted
		start, obs int
		mu, llr    float64
	}
	for _, tc := range []struct {
		name   string
		counts [][]int // [location][day], 3 locations 100 m apart, 4 days
		p      scan.Params
		want   *want // nil: no cluster
	}{{
		// A busy last day everywhere. C = 3·(1+1+1+3) = 18; a location has
		// C_z = 6 and the last day C_w = 9, so μ = 6·9/18 = 3 = c; every
		// cylinder gets its share exactly (c = μ), so none is a cluster.
		name:   "time only",
		counts: [][]int{{1, 1, 1, 3}, {1, 1, 1, 3}, {1, 1, 1, 3}},
		p:      scan.Params{MaxLocations: 3},
	}, {
		// A busy place every day. C = 4·(3+1+1) = 20; location 0 has C_z =
		// 12, a day C_d = 5; over the last day μ = 12·5/20 = 3 = c, and over
		// the last k days μ = 12·5k/20 = 3k = c; again no cluster.
		name:   "space only",
		counts: [][]int{{3, 3, 3, 3}, {1, 1, 1, 1}, {1, 1, 1, 1}},
		p:      scan.Params{MaxLocations: 3},
	}, {
		// One case a location a day and 3 more at location 2 on day 3.
		// C = 12 + 3 = 15; at location 2, C_z = 4 + 3 = 7; on day 3,
		// C_w = 3 + 3 = 6. Cylinder ({2}, day 3): c = 4,
		// μ = 7·6/15 = 2.8, LLR = 4·ln(4/2.8) + 11·ln(11/12.2)
		// = 4·0.356675 + 11·(−0.103541) = 1.426700 − 1.138953 = 0.287752.
		// The runners-up: ({2}, days 2–3): c = 5, μ = 7·9/15 = 4.2,
		// LLR = 5·ln(5/4.2) + 10·ln(10/10.8) = 0.102157; ({1, 2}, day 3):
		// c = 5, μ = 11·6/15 = 4.4, LLR = 5·ln(5/4.4) + 10·ln(10/10.6)
		// = 0.056478. (Default MaxLocations for 3 locations is 1.)
		name:   "space and time",
		counts: [][]int{{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 4}},
		want:   &want{[]int{2}, 3, 4, 2.8, 4*math.Log(4/2.8) + 11*math.Log(11/12.2)},
	}, {
		// Three cases a day at locations 1 and 2 on days 2 and 3, one
		// otherwise. C = 4 + 8 + 8 = 20; zone {1, 2}: C_z = 16; days 2–3:
		// C_w = 1+1+3+3+3+3 = 14; c = 12, μ = 16·14/20 = 11.2,
		// LLR = 12·ln(12/11.2) + 8·ln(8/8.8) = 12·0.068993 + 8·(−0.095310)
		// = 0.827915 − 0.762481 = 0.065433. Runners-up: {1} or {2} over
		// days 2–3, c = 6, μ = 8·14/20 = 5.6, LLR = 6·ln(6/5.6) +
		// 14·ln(14/14.4) = 0.019565.
		name:   "two locations, two days",
		counts: [][]int{{1, 1, 1, 1}, {1, 1, 3, 3}, {1, 1, 3, 3}},
		p:      scan.Params{MaxLocations: 2},
		want:   &want{[]int{1, 2}, 2, 12, 11.2, 12*math.Log(12/11.2) + 8*math.Log(8/8.8)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.p.Replicas = 99
			res, err := scan.Scan(line(3, 100), fromCounts(tc.counts), 4, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if len(res.Clusters) > 0 && res.Clusters[0].LLR > 1e-9 {
					t.Fatalf("found %+v; want no cluster", res.Clusters[0])
				}
				return
			}
			if len(res.Clusters) == 0 {
				t.Fatal("no cluster")
			}
			got, w := res.Clusters[0], tc.want
			if locs := slices.Sorted(slices.Values(got.Locations)); !slices.Equal(locs, w.locs) ||
				got.StartDay != w.start || got.EndDay != 3 || got.Observed != w.obs ||
				math.Abs(got.Expected-w.mu) > 1e-9 || math.Abs(got.LLR-w.llr) > 1e-9 {
				t.Fatalf("most likely cluster %+v; want %+v", got, *w)
			}
			if got.P != res.PValue(got.LLR) || got.RecurrenceDays != 1/got.P {
				t.Fatalf("P %v, recurrence %v; PValue says %v", got.P, got.RecurrenceDays, res.PValue(got.LLR))
			}
		})
	}
}

// randomData returns n uniform locations in a side-metre square and cases
// spread uniformly over them and days days.
func randomData(seed uint64, n int, side float64, cases, days int) ([]geo.Point, []scan.Case) {
	rng := rand.New(rand.NewPCG(seed, 1))
	deg := geo.EarthRadius * math.Pi / 180
	locs := make([]geo.Point, n)
	for i := range locs {
		locs[i] = geo.Point{Lat: 30 + rng.Float64()*side/deg, Lng: 120 + rng.Float64()*side/deg/math.Cos(30*math.Pi/180)}
	}
	cs := make([]scan.Case, cases)
	for i := range cs {
		cs[i] = scan.Case{Location: rng.IntN(n), Day: rng.IntN(days)}
	}
	return locs, cs
}

// brute scans every cylinder naively: it returns the number of cylinders and
// the largest LLR of those holding at least minCases cases.
func brute(locs []geo.Point, cases []scan.Case, days int, radius float64, maxLocs, windows, minCases int) (int, float64) {
	n, best := 0, 0.0
	for i := range locs {
		order := make([]int, len(locs))
		for j := range order {
			order[j] = j
		}
		dist := func(j int) float64 { return geo.Distance(locs[i], locs[j]) }
		slices.SortFunc(order, func(a, b int) int {
			switch {
			case a == i:
				return -1
			case b == i:
				return 1
			}
			return cmp.Or(cmp.Compare(dist(a), dist(b)), cmp.Compare(a, b))
		})
		in := make([]bool, len(locs))
		for size, j := range order {
			if size == maxLocs || dist(j) > radius {
				break
			}
			in[j] = true
			for k := range windows {
				n++
				cz, cw, c := 0, 0, 0
				for _, cs := range cases {
					inW := cs.Day >= days-1-k
					cz += b2i(in[cs.Location])
					cw += b2i(inW)
					c += b2i(in[cs.Location] && inW)
				}
				if c >= minCases {
					best = max(best, llr(c, float64(cz)*float64(cw)/float64(len(cases)), len(cases)))
				}
			}
		}
	}
	return n, best
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestBoundsMatchANaiveScan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    scan.Params
	}{
		{"defaults", scan.Params{}},
		{"radius 400 m", scan.Params{MaxRadiusMeters: 400}},
		{"radius 50 m: single locations", scan.Params{MaxRadiusMeters: 50}},
		{"3 locations, 3 days", scan.Params{MaxLocations: 3, MaxWindowDays: 3}},
		{"MinCases 6", scan.Params{MinCases: 6, MaxWindowDays: 2}},
		{"window longer than the study", scan.Params{MaxWindowDays: 40, MaxRadiusMeters: 300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const days = 10
			locs, cases := randomData(7, 20, 1000, 150, days)
			tc.p.Replicas = 19
			tc.p.MaxClusters = 20
			res, err := scan.Scan(locs, cases, days, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			radius := cmp.Or(tc.p.MaxRadiusMeters, math.Inf(1))
			maxLocs, windows, minCases := cmp.Or(tc.p.MaxLocations, 10), min(cmp.Or(tc.p.MaxWindowDays, 7), days), cmp.Or(tc.p.MinCases, 3)
			n, best := brute(locs, cases, days, radius, maxLocs, windows, minCases)
			if res.Candidates != n {
				t.Errorf("%d candidates; want %d", res.Candidates, n)
			}
			if len(res.Clusters) == 0 || math.Abs(res.Clusters[0].LLR-best) > 1e-9 {
				t.Fatalf("clusters %+v; want the first with LLR %v", res.Clusters, best)
			}
			for _, c := range res.Clusters {
				if c.RadiusMeters > radius || len(c.Locations) > maxLocs || c.Observed < minCases ||
					c.EndDay != days-1 || c.EndDay-c.StartDay >= windows || c.StartDay < 0 {
					t.Errorf("cluster %+v breaks the bounds", c)
				}
				if far := geo.Distance(locs[c.Centre], locs[c.Locations[len(c.Locations)-1]]); far != c.RadiusMeters {
					t.Errorf("radius %v; the farthest location is %v away", c.RadiusMeters, far)
				}
			}
		})
	}
}

func TestMinCases(t *testing.T) {
	t.Parallel()
	// Location 2 has its only 2 cases on the last day: the strongest
	// signal, but under the default MinCases of 3.
	counts := [][]int{{1, 1, 1, 0}, {1, 1, 1, 0}, {0, 0, 0, 2}}
	for _, tc := range []struct {
		minCases int
		want     bool // a cluster of 2 cases at location 2 on day 3
	}{{0, false}, {3, false}, {2, true}, {1, true}} {
		res, err := scan.Scan(line(3, 100), fromCounts(counts), 4, scan.Params{MinCases: tc.minCases, Replicas: 9})
		if err != nil {
			t.Fatal(err)
		}
		got := len(res.Clusters) > 0 && res.Clusters[0].Observed == 2 && res.Clusters[0].Centre == 2
		if got != tc.want {
			t.Errorf("MinCases %d: clusters %+v", tc.minCases, res.Clusters)
		}
	}
}

func TestDeterministicWhateverTheWorkers(t *testing.T) {
	t.Parallel()
	locs, cases := randomData(3, 80, 3000, 2000, 30)
	var first scan.Result
	for i, workers := range []int{1, 1, 2, 3, 8} {
		res, err := scan.Scan(locs, cases, 30, scan.Params{Replicas: 99, Seed: 42, Workers: workers, MaxRadiusMeters: 800})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res
		} else if !reflect.DeepEqual(res, first) {
			t.Fatalf("%d workers: %+v; want %+v", workers, res, first)
		}
	}
	other, err := scan.Scan(locs, cases, 30, scan.Params{Replicas: 99, Seed: 43, MaxRadiusMeters: 800})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(other.NullMaxLLR, first.NullMaxLLR) {
		t.Error("seeds 42 and 43 drew the same replicas")
	}
}

// planted adds extra cases in the last 3 days at location l and its
// nearest neighbour.
func planted(locs []geo.Point, cases []scan.Case, l, extra, days int) []scan.Case {
	near := -1
	for j := range locs {
		if j != l && (near < 0 || geo.Distance(locs[l], locs[j]) < geo.Distance(locs[l], locs[near])) {
			near = j
		}
	}
	for i := range extra {
		cases = append(cases, scan.Case{Location: []int{l, near}[i%2], Day: days - 1 - i%3})
	}
	return cases
}

func TestPlantedClusterIsFound(t *testing.T) {
	t.Parallel()
	const days = 60
	locs, cases := randomData(11, 100, 5000, 3000, days) // 0.5 a location a day
	cases = planted(locs, cases, 17, 15, days)           // 15 more where 3 are expected
	res, err := scan.Scan(locs, cases, days, scan.Params{MaxRadiusMeters: 1000, Replicas: 999, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Clusters[0]
	t.Logf("most likely: %+v", c)
	if c.P > 0.01 || !slices.Contains(c.Locations, 17) {
		t.Fatalf("most likely cluster %+v; want location 17 with p ≤ 0.01", c)
	}
}

func TestNullDataIsRarelySignificant(t *testing.T) {
	t.Parallel()
	const runs, days = 50, 28
	significant := 0
	for seed := range uint64(runs) {
		locs, cases := randomData(100+seed, 60, 3000, 600, days)
		res, err := scan.Scan(locs, cases, days, scan.Params{MaxRadiusMeters: 1000, Replicas: 99, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Clusters) > 0 && res.Clusters[0].P <= 0.05 {
			significant++
		}
	}
	share := float64(significant) / runs
	t.Logf("null data: %d of %d runs with p ≤ 0.05 (%.2f)", significant, runs, share)
	if share > 0.15 {
		t.Fatalf("share with p ≤ 0.05 is %.2f; want ≤ 0.15", share)
	}
}

func TestSecondaryClustersShareNoLocation(t *testing.T) {
	t.Parallel()
	const days = 30
	locs, cases := randomData(5, 120, 6000, 3000, days)
	for _, l := range []int{3, 40, 77} {
		cases = planted(locs, cases, l, 20, days)
	}
	res, err := scan.Scan(locs, cases, days, scan.Params{MaxRadiusMeters: 1500, Replicas: 99, MaxClusters: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Clusters) != 8 {
		t.Fatalf("%d clusters; want 8", len(res.Clusters))
	}
	seen := map[int]int{}
	for i, c := range res.Clusters {
		t.Logf("cluster %d: centre %d, %d locations, days %d–%d, %d/%.1f, LLR %.2f, p %.3f",
			i, c.Centre, len(c.Locations), c.StartDay, c.EndDay, c.Observed, c.Expected, c.LLR, c.P)
		if i > 0 && (c.LLR > res.Clusters[i-1].LLR || c.P < res.Clusters[i-1].P) {
			t.Errorf("cluster %d scores above cluster %d", i, i-1)
		}
		if float64(c.Observed) <= c.Expected || c.Observed < 3 {
			t.Errorf("cluster %d: %d observed, %v expected", i, c.Observed, c.Expected)
		}
		for _, l := range c.Locations {
			if j, ok := seen[l]; ok {
				t.Errorf("location %d is in clusters %d and %d", l, j, i)
			}
			seen[l] = i
		}
	}
	strict, err := scan.Scan(locs, cases, days, scan.Params{MaxRadiusMeters: 1500, Replicas: 99, MaxClusters: 8, ReportP: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range strict.Clusters {
		if c.P > 0.05 {
			t.Errorf("reported p %v above ReportP 0.05", c.P)
		}
	}
	if n := len(strict.Clusters); n != 3 || !reflect.DeepEqual(strict.Clusters, res.Clusters[:n]) {
		t.Errorf("ReportP 0.05 kept %d clusters; want the 3 planted, the first 3 of all", n)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	locs := line(3, 100)
	ok := []scan.Case{{Location: 0, Day: 0}}
	for _, tc := range []struct {
		name  string
		locs  []geo.Point
		cases []scan.Case
		days  int
		p     scan.Params
		want  error
	}{
		{"no locations", nil, nil, 4, scan.Params{}, scan.ErrNoLocations},
		{"invalid location", []geo.Point{{Lat: math.NaN()}}, nil, 4, scan.Params{}, scan.ErrLocation},
		{"no days", locs, nil, 0, scan.Params{}, scan.ErrDays},
		{"location below", locs, []scan.Case{{Location: -1}}, 4, scan.Params{}, scan.ErrCase},
		{"location above", locs, []scan.Case{{Location: 3}}, 4, scan.Params{}, scan.ErrCase},
		{"day below", locs, []scan.Case{{Day: -1}}, 4, scan.Params{}, scan.ErrCase},
		{"day above", locs, []scan.Case{{Day: 4}}, 4, scan.Params{}, scan.ErrCase},
		{"negative radius", locs, ok, 4, scan.Params{MaxRadiusMeters: -1}, scan.ErrParams},
		{"NaN radius", locs, ok, 4, scan.Params{MaxRadiusMeters: math.NaN()}, scan.ErrParams},
		{"negative locations", locs, ok, 4, scan.Params{MaxLocations: -1}, scan.ErrParams},
		{"negative window", locs, ok, 4, scan.Params{MaxWindowDays: -1}, scan.ErrParams},
		{"negative min cases", locs, ok, 4, scan.Params{MinCases: -1}, scan.ErrParams},
		{"negative replicas", locs, ok, 4, scan.Params{Replicas: -1}, scan.ErrParams},
		{"negative clusters", locs, ok, 4, scan.Params{MaxClusters: -1}, scan.ErrParams},
		{"negative workers", locs, ok, 4, scan.Params{Workers: -1}, scan.ErrParams},
		{"NaN ReportP", locs, ok, 4, scan.Params{ReportP: math.NaN()}, scan.ErrParams},
		{"ReportP above 1", locs, ok, 4, scan.Params{ReportP: 1.5}, scan.ErrParams},
	} {
		if _, err := scan.Scan(tc.locs, tc.cases, tc.days, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
		}
	}
}

func TestNoCases(t *testing.T) {
	t.Parallel()
	res, err := scan.Scan(line(3, 100), nil, 4, scan.Params{Replicas: 9})
	if err != nil || len(res.Clusters) != 0 || len(res.NullMaxLLR) != 9 || res.Candidates != 12 {
		t.Fatalf("Scan without cases = %+v, %v", res, err)
	}
}

func TestReplicasFollowTheDayPermutation(t *testing.T) {
	t.Parallel()
	// The replicas' maxima against those of a naive scan of the data with
	// its Day column shuffled: a two-sample Kolmogorov–Smirnov distance
	// beyond 1.95·√(2/n) would have a chance under 0.001 if they agreed.
	// The window of 3 days of 10 leaves most cases out of every window,
	// whose days the package need not draw.
	const n, days = 2000, 10
	locs, cases := randomData(9, 8, 1000, 60, days)
	res, err := scan.Scan(locs, cases, days, scan.Params{Replicas: n, MinCases: 2, MaxWindowDays: 3})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	naive := make([]float64, n)
	shuffled := slices.Clone(cases)
	for r := range naive {
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i].Day, shuffled[j].Day = shuffled[j].Day, shuffled[i].Day })
		_, naive[r] = brute(locs, shuffled, days, math.Inf(1), 4, 3, 2)
	}
	slices.Sort(naive)
	d := 0.0
	for _, x := range slices.Concat(naive, res.NullMaxLLR) {
		x += 1e-9 // the distribution has atoms, which the two round apart
		fa := float64(sortedCount(naive, x)) / n
		fb := float64(sortedCount(res.NullMaxLLR, x)) / n
		d = max(d, math.Abs(fa-fb))
	}
	t.Logf("KS distance %.4f", d)
	if limit := 1.95 * math.Sqrt(2.0/n); d > limit {
		t.Fatalf("KS distance %.4f > %.4f", d, limit)
	}
}

// sortedCount returns how many of xs, ascending, are ≤ x.
func sortedCount(xs []float64, x float64) int {
	i, _ := slices.BinarySearchFunc(xs, x, func(e, t float64) int {
		if e <= t {
			return -1
		}
		return 1
	})
	return i
}
