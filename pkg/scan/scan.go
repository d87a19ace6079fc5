// Package scan finds hot spots: places where more reports of one matter
// came in lately than their usual share of reports and the recent share of
// all places would lead one to expect. It is the prospective space-time
// permutation scan statistic of
//
//	M. Kulldorff, R. Heffernan, J. Hartman, R. Assunção, F. Mostashari,
//	"A space-time permutation scan statistic for disease outbreak
//	detection", PLoS Medicine 2(3): e59, 2005, doi:10.1371/journal.pmed.0020059
//
// (the method SaTScan implements and New York City's health department runs
// every day), over plain values: locations (grid centres, say), and cases,
// each a location and a day of the study period.
//
// A candidate cluster is a cylinder: a circle (a centre location and its
// nearest neighbours, added one at a time, ties by index, up to a radius and
// a number of locations) times a window of the last 1 to MaxWindowDays days
// of the study. Its expected count is C_z × C_w / C, where C is the number of
// cases, C_z those at the circle's locations over the whole study and C_w
// those on the window's days anywhere; so a busy place or a busy week is no
// cluster by itself, only the two together are. A cylinder with c observed
// cases and μ expected scores the Poisson log likelihood ratio
//
//	LLR = c·ln(c/μ) + (C−c)·ln((C−c)/(C−μ))   when c > μ (else 0),
//
// and the most likely cluster is the cylinder with the largest one. Its
// p-value is found by Monte Carlo: each replica permutes the days among the
// cases at random, keeping every case's location, and takes the largest LLR
// over all cylinders; p = (1 + replicas at least as high) / (1 + replicas).
// Secondary clusters are the next best cylinders that share no location with
// one reported before, each judged against the same replica maxima (the
// usual, conservative way). For an analysis run once a day, 1/p is the
// recurrence interval: the days one would wait, on average, for a false
// alarm at least as strong.
//
// Scan is deterministic given Params.Seed, whatever the number of workers.
// Its cost is about (candidate cylinders) × (replicas + 1) cheap steps (no
// logarithm among them), plus, per replica, a random draw for each case in
// the longest window, and locations² distances for the circles. It holds 16
// bytes per candidate cylinder and, per worker, 4 bytes per case. On two
// cores, 1,000 locations with 2 km circles (about 30,000) × 7 windows,
// 100,000 to 1,000,000 cases over a year and 999 replicas take under a
// second.
package scan

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/whistle-civic/whistle/pkg/geo"
)

// The errors of Scan, wrapped with the details.
var (
	// ErrNoLocations is returned when there are no locations.
	ErrNoLocations = errors.New("scan: no locations")
	// ErrLocation is returned for a location that is not a valid point.
	ErrLocation = errors.New("scan: invalid location")
	// ErrCase is returned for a case whose location or day is out of range.
	ErrCase = errors.New("scan: case out of range")
	// ErrDays is returned when the study period is shorter than a day.
	ErrDays = errors.New("scan: study period under one day")
	// ErrParams is returned for a negative or NaN parameter, or ReportP
	// above 1.
	ErrParams = errors.New("scan: invalid parameters")
)

// Case is one report of the matter studied.
type Case struct {
	Location int // index into the locations
	Day      int // 0 is the study's first day, days-1 the last (today)
}

// Params tunes a scan. The zero value of each field stands for its default;
// negative values (and NaN) are errors.
type Params struct {
	// MaxRadiusMeters bounds a circle's radius, the distance from its centre
	// to the farthest location it holds. 0 (the default) sets no bound.
	MaxRadiusMeters float64
	// MaxLocations bounds the number of locations in a circle. 0 (the
	// default) is half of the locations, at least 1; more than all of them
	// counts as all.
	MaxLocations int
	// MaxWindowDays is the longest time window, in days ending on the last
	// day of the study. 0 is the default, 7; more than the study's days
	// counts as the whole study.
	MaxWindowDays int
	// MinCases is the fewest cases a cylinder must hold to count. 0 is the
	// default, 3.
	MinCases int
	// Replicas is the number of Monte Carlo replicas. 0 is the default, 999.
	Replicas int
	// Seed makes the replicas reproducible; any value, 0 too.
	Seed uint64
	// MaxClusters bounds the clusters reported. 0 is the default, 10.
	MaxClusters int
	// ReportP is the largest p-value reported, in [0, 1]. 0 is the default,
	// 1 (report every cluster found, up to MaxClusters).
	ReportP float64
	// Workers is the number of goroutines running replicas. 0 is the
	// default, runtime.GOMAXPROCS(0). The result does not depend on it.
	Workers int
}

// Cluster is a cylinder reported: a circle of locations over the last days.
type Cluster struct {
	Centre         int     // the location the circle is centred on
	Locations      []int   // the circle's locations, nearest to the centre first (the centre itself)
	RadiusMeters   float64 // the distance from the centre to the farthest of them
	StartDay       int     // the window's first day
	EndDay         int     // the window's last day, always the study's last
	Observed       int     // cases in the cylinder
	Expected       float64 // their expectation C_z × C_w / C
	LLR            float64 // the log likelihood ratio
	P              float64 // the Monte Carlo p-value against the replicas' maxima
	RecurrenceDays float64 // 1/P: days between false alarms this strong, run daily
	Cases          []int   // indices of its cases, ascending
}

// Result is the outcome of a scan.
type Result struct {
	// Clusters are the clusters with P ≤ ReportP, most likely first, in
	// descending LLR, no two sharing a location. Empty when no cylinder
	// holds MinCases cases and more than expected.
	Clusters []Cluster
	// Replicas is the number of Monte Carlo replicas run.
	Replicas int
	// NullMaxLLR are the replicas' largest LLRs (0 for a replica without a
	// cylinder that counts), ascending; PValue judges other values by them.
	NullMaxLLR []float64
	// Candidates is the number of cylinders scanned in each replica.
	Candidates int
}

// PValue returns the Monte Carlo p-value of a log likelihood ratio against
// r's replicas: (1 + replicas with a maximum ≥ llr) / (1 + replicas).
func (r Result) PValue(llr float64) float64 {
	return pValue(r.NullMaxLLR, llr)
}

// config is Params with the defaults filled in, for one data set.
type config struct {
	radius      float64
	maxLocs     int
	windows     int
	minCases    int
	replicas    int
	seed        uint64
	maxClusters int
	reportP     float64
	workers     int
}

func (p Params) config(nLocs, days int) (config, error) {
	if math.IsNaN(p.MaxRadiusMeters) || math.IsNaN(p.ReportP) {
		return config{}, fmt.Errorf("%w: NaN", ErrParams)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"MaxRadiusMeters", p.MaxRadiusMeters}, {"MaxLocations", float64(p.MaxLocations)},
		{"MaxWindowDays", float64(p.MaxWindowDays)}, {"MinCases", float64(p.MinCases)},
		{"Replicas", float64(p.Replicas)}, {"MaxClusters", float64(p.MaxClusters)},
		{"ReportP", p.ReportP}, {"Workers", float64(p.Workers)},
	} {
		if f.v < 0 {
			return config{}, fmt.Errorf("%w: %s = %v is negative", ErrParams, f.name, f.v)
		}
	}
	if p.ReportP > 1 {
		return config{}, fmt.Errorf("%w: ReportP = %v is above 1", ErrParams, p.ReportP)
	}
	c := config{
		radius:      cmp.Or(p.MaxRadiusMeters, math.Inf(1)),
		maxLocs:     min(cmp.Or(p.MaxLocations, max(1, nLocs/2)), nLocs),
		windows:     min(cmp.Or(p.MaxWindowDays, 7), days),
		minCases:    cmp.Or(p.MinCases, 3),
		replicas:    cmp.Or(p.Replicas, 999),
		seed:        p.Seed,
		maxClusters: cmp.Or(p.MaxClusters, 10),
		reportP:     cmp.Or(p.ReportP, 1),
		workers:     cmp.Or(p.Workers, runtime.GOMAXPROCS(0)),
	}
	return c, nil
}

// Scan finds the space-time clusters of cases at locs over a study period
// of days days, the last of which is today. It fails with ErrNoLocations,
// ErrLocation, ErrDays, ErrCase or ErrParams (wrapped) on bad input.
func Scan(locs []geo.Point, cases []Case, days int, p Params) (Result, error) {
	if err := validate(locs, cases, days); err != nil {
		return Result{}, err
	}
	cfg, err := p.config(len(locs), days)
	if err != nil {
		return Result{}, err
	}
	z := buildZones(locs, cfg)
	m := newModel(z, len(locs), cases, days, cfg)
	res := Result{Replicas: cfg.replicas, Candidates: len(z.nb) * cfg.windows}
	res.NullMaxLLR = m.replicas(cfg)
	cands := m.observed()
	res.Clusters = m.clusters(cands, res.NullMaxLLR, cases, days, cfg)
	return res, nil
}

func validate(locs []geo.Point, cases []Case, days int) error {
	if len(locs) == 0 {
		return ErrNoLocations
	}
	if len(locs) > math.MaxInt32 || len(cases) > math.MaxInt32 {
		return fmt.Errorf("%w: more than %d locations or cases", ErrCase, math.MaxInt32)
	}
	if days < 1 {
		return fmt.Errorf("%w: %d days", ErrDays, days)
	}
	for i, l := range locs {
		if !l.Valid() {
			return fmt.Errorf("%w: location %d is %v", ErrLocation, i, l)
		}
	}
	for i, c := range cases {
		if c.Location < 0 || c.Location >= len(locs) {
			return fmt.Errorf("%w: case %d is at location %d, not in [0, %d)", ErrCase, i, c.Location, len(locs))
		}
		if c.Day < 0 || c.Day >= days {
			return fmt.Errorf("%w: case %d is on day %d, not in [0, %d)", ErrCase, i, c.Day, days)
		}
	}
	return nil
}

// pValue is (1 + values of null ≥ llr) / (1 + len(null)), null ascending.
func pValue(null []float64, llr float64) float64 {
	below := sort.SearchFloat64s(null, llr) // the first index with null[i] ≥ llr
	return float64(1+len(null)-below) / float64(1+len(null))
}

// zones are the circles. Those centred on location i are the zones zi with
// start[i] ≤ zi < start[i+1]; zone zi holds nb[start[i]] (the centre) to
// nb[zi], and dist[zi], the distance from the centre to nb[zi], is its
// radius.
type zones struct {
	start  []int32
	nb     []int32
	dist   []float64
	centre []int32
}

type neighbour struct {
	d float64
	j int32
}

// buildZones grows each location's circle by its nearest neighbours, ties
// by index, within the radius and the number of locations of cfg.
func buildZones(locs []geo.Point, cfg config) *zones {
	lists := make([][]neighbour, len(locs))
	parallel(cfg.workers, len(locs), func() func(int) {
		buf := make([]neighbour, 0, len(locs))
		return func(i int) {
			buf = append(buf[:0], neighbour{-1, int32(i)}) // the centre first, even if another location is on it
			for j, q := range locs {
				if d := geo.Distance(locs[i], q); j != i && d <= cfg.radius {
					buf = append(buf, neighbour{d, int32(j)})
				}
			}
			slices.SortFunc(buf, func(a, b neighbour) int {
				return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.j, b.j))
			})
			buf[0].d = 0
			lists[i] = slices.Clone(buf[:min(len(buf), cfg.maxLocs)])
		}
	})
	z := &zones{start: make([]int32, 1, len(locs)+1)}
	for i, l := range lists {
		for _, n := range l {
			z.nb = append(z.nb, n.j)
			z.dist = append(z.dist, n.d)
			z.centre = append(z.centre, int32(i))
		}
		z.start = append(z.start, int32(len(z.nb)))
	}
	return z
}

// candidate is a zone's best cylinder in the data: cyl is zone × windows +
// the window's index, its length in days less one.
type candidate struct {
	llr float64
	cyl int
}

// clusters picks the clusters from the zones' best cylinders: in descending
// LLR, each sharing no location with one picked before.
func (m *model) clusters(cands []candidate, null []float64, cases []Case, days int, cfg config) []Cluster {
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.llr, a.llr), cmp.Compare(a.cyl, b.cyl))
	})
	z := m.z
	used := make([]bool, m.nLocs)
	firstUsed := slices.Clone(z.start[1:]) // per centre, its first zone holding a used location
	var out []Cluster
	for _, cd := range cands {
		zi, k := cd.cyl/m.windows, cd.cyl%m.windows
		if len(out) == cfg.maxClusters {
			break
		}
		if int32(zi) >= firstUsed[z.centre[zi]] {
			continue
		}
		p := pValue(null, cd.llr)
		if p > cfg.reportP {
			break // the rest score less, so their p-values are no smaller
		}
		cl := m.cluster(zi, k, cd.llr, p, cases, days)
		out = append(out, cl)
		for _, l := range cl.Locations {
			used[l] = true
		}
		for i := range firstUsed {
			for zj := z.start[i]; zj < firstUsed[i]; zj++ {
				if used[z.nb[zj]] {
					firstUsed[i] = zj
					break
				}
			}
		}
	}
	return out
}

// cluster describes zone zi over window k.
func (m *model) cluster(zi, k int, llr, p float64, cases []Case, days int) Cluster {
	z := m.z
	i := z.centre[zi]
	cl := Cluster{
		Centre: int(i), RadiusMeters: z.dist[zi], StartDay: days - 1 - k, EndDay: days - 1,
		Expected: m.expected(zi, k), LLR: llr, P: p, RecurrenceDays: 1 / p,
	}
	in := make([]bool, m.nLocs)
	for _, l := range z.nb[z.start[i] : zi+1] {
		in[l] = true
		cl.Locations = append(cl.Locations, int(l))
	}
	for ci, c := range cases {
		if in[c.Location] && c.Day >= cl.StartDay {
			cl.Cases = append(cl.Cases, ci)
		}
	}
	cl.Observed = len(cl.Cases)
	return cl
}

// parallel calls work(i) for every i in [0, n) on up to workers goroutines,
// each with its own work function from newWorker.
func parallel(workers, n int, newWorker func() func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			work := newWorker()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				work(i)
			}
		})
	}
	wg.Wait()
}
