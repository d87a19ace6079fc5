// Package synth generates synthetic cities to evaluate the hot spot scan
// (package scan) on: grids on a jittered lattice, reports of one matter at
// each grid from a Poisson process whose rate is the grid's own baseline
// times a city-wide factor of the day, and, as the ground truth, planted
// recurring problems (outbreaks) that add reports at a few neighbouring
// grids from a given day on.
//
// Everything that makes a naive count alarm is there on purpose and must not
// make the scan alarm: baselines that vary a lot from grid to grid, busy
// decoy grids with several times the baseline all the time, weekends,
// seasons and city-wide busy weeks (a storm). The scan adjusts for a place's
// own share of the reports and for a day's share of the city's, so only a
// place busy lately beyond both is a cluster.
//
// A city is a pure function of its seed and Config (math/rand/v2's PCG).
// The background and the outbreaks draw from separate streams, so the same
// seed without outbreaks (a null city) has exactly the same background
// reports: the two can be compared pair by pair.
package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/scan"
)

// ErrConfig is returned (wrapped with the field) for a Config that cannot
// make a city: no grids or days, a negative or NaN amount, an empty range.
var ErrConfig = errors.New("synth: invalid config")

// ErrCrowded is returned when the outbreaks cannot all be placed
// SeparationMeters apart from each other on ordinary (non-decoy) grids.
var ErrCrowded = errors.New("synth: no room for the outbreaks")

// Strength is how many reports an outbreak adds: a Poisson count a day of
// mean max(PerDay, (Ratio − 1) × the usual reports a day of its grids
// together, their baseline rates' sum), each at one of its grids chosen
// uniformly. A problem at a quiet place gets PerDay; at a busy one, enough
// to multiply the place's usual reports by Ratio.
type Strength struct {
	Name string
	// PerDay is the least extra reports a day, over all its grids.
	PerDay float64
	// Ratio is the least ratio of its grids' reports during it to their
	// usual ones (1 or less: PerDay only).
	Ratio float64
	// Realistic marks the strengths a person reading the reports would call
	// a real problem; the headline sensitivity is over these.
	Realistic bool
	// PerCity is how many outbreaks of this strength a city gets.
	PerCity int
}

// DefaultStrengths are the outbreak strengths of DefaultConfig: weak, at
// least 2 extra reports a week and twice the place's usual; medium, 4 and
// 4×; strong, 8 and 8×. Weak and medium come two a city, strong five. Only
// strong is Realistic: more than one extra report a day, 16 in two weeks,
// at a place that would have had a few at most. Weak (4 in two weeks at a
// quiet grid) is what chance alone gives about 3 of the 380 ordinary grids
// and half the decoys every fortnight; medium stands out at a quiet grid
// in two weeks only when it happens to draw most of its 8.
// docs/hotspots.md has the arithmetic.
var DefaultStrengths = []Strength{
	{Name: "weak", PerDay: 2.0 / 7, Ratio: 2, PerCity: 2},
	{Name: "medium", PerDay: 4.0 / 7, Ratio: 4, PerCity: 2},
	{Name: "strong", PerDay: 8.0 / 7, Ratio: 8, Realistic: true, PerCity: 5},
}

// Config describes a city. Generate uses every field as it is (a zero is a
// zero); start from DefaultConfig and change what a case needs.
type Config struct {
	Grids         int       // number of grids (default 400: a district)
	SpacingMeters float64   // lattice step between grid centres (300)
	JitterMeters  float64   // each centre moves by up to this, in x and y (75)
	Origin        geo.Point // the lattice's south-west corner (39.9, 116.4)
	Days          int       // days of reports, day 0 first (454)

	BaseRate   float64 // mean reports a day at an ordinary grid (0.05, about 1.5 a month)
	RateSpread float64 // σ of the log of ordinary grids' rates, mean kept (0.7: the middle 95 % of grids span a factor of 15)
	DecoyShare float64 // share of grids that are busy decoys (0.05)
	DecoyMin   float64 // a decoy's rate is BaseRate × U(DecoyMin, DecoyMax) (5)
	DecoyMax   float64 // (10)

	WeekendDip        float64 // Saturdays and Sundays (days 5 and 6 mod 7) have 1 − WeekendDip of the rate (0.3)
	SeasonalAmplitude float64 // the rate is × 1 + A·sin(2π·day/365.25) (0.4)
	BusyWeeks         int     // city-wide busy weeks at random, 7 days each (4)
	BusyFactor        float64 // the rate is × BusyFactor in a busy week (2)
	// Duplicates makes the background bursty: each report brings a Poisson
	// number of this mean more, at its grid on its day (residents reporting
	// the same incident), so the rates count incidents. 0 (the default) is
	// plain Poisson noise.
	Duplicates float64

	Strengths        []Strength // the outbreaks to plant (DefaultStrengths; none makes a null city)
	OutbreakDays     int        // how long an outbreak lasts, cut at the last day (28)
	FirstStart       int        // outbreaks start on a day in [FirstStart, LastStart] (364)
	LastStart        int        // (440: 14 days before the end)
	RadiiMeters      []float64  // an outbreak's radius, one at random ({0, 0, 300, 450})
	StraddleShare    float64    // share of outbreaks centred between two grids (0.5)
	SeparationMeters float64    // least distance between two outbreaks' centres (1200)
}

// DefaultConfig returns the city of the evaluation: 400 grids 300 m apart
// (a district of about 6 × 6 km) over 454 days (a 365-day study ending on
// each of the last 90), about 25 reports a day of the matter, and the
// DefaultStrengths' nine outbreaks starting in the last 90 days, at least
// 14 before the end. Set Strengths to nil for a null city.
func DefaultConfig() Config {
	return Config{
		Grids: 400, SpacingMeters: 300, JitterMeters: 75, Origin: geo.Point{Lat: 39.9, Lng: 116.4}, Days: 454,
		BaseRate: 0.05, RateSpread: 0.7, DecoyShare: 0.05, DecoyMin: 5, DecoyMax: 10,
		WeekendDip: 0.3, SeasonalAmplitude: 0.4, BusyWeeks: 4, BusyFactor: 2,
		Strengths: slices.Clone(DefaultStrengths), OutbreakDays: 28, FirstStart: 364, LastStart: 440,
		RadiiMeters: []float64{0, 0, 300, 450}, StraddleShare: 0.5, SeparationMeters: 1200,
	}
}

// Outbreak is a planted recurring problem, the ground truth.
type Outbreak struct {
	Strength     Strength
	PerDay       float64   // its mean extra reports a day, from Strength and its grids' rates
	Centre       geo.Point // a grid's centre, or halfway between two when Straddle
	Straddle     bool
	RadiusMeters float64 // as drawn from Config.RadiiMeters
	Grids        []int   // the grids it adds reports at, ascending
	StartDay     int     // its first day
	EndDay       int     // its last day (inclusive)
	Cases        int     // the reports it added
}

// City is a generated city.
type City struct {
	Seed      uint64
	Config    Config
	Locations []geo.Point // the grids' centres
	Rates     []float64   // each grid's baseline reports a day, before the day's factor
	Decoy     []bool      // whether each grid is a busy decoy
	DayFactor []float64   // the city-wide factor of each day
	Cases     []scan.Case // every report, by day; the scan's input
	Origin    []int       // for each case, the outbreak that added it, or -1 for the background
	Outbreaks []Outbreak  // the ground truth, in the order placed (by strength)
}

// Null reports whether the city has no outbreak.
func (c City) Null() bool { return len(c.Outbreaks) == 0 }

// Generate returns the city of seed and cfg. It fails with ErrConfig or
// ErrCrowded (wrapped).
func Generate(seed uint64, cfg Config) (City, error) {
	if err := cfg.validate(); err != nil {
		return City{}, err
	}
	bg := rand.New(rand.NewPCG(seed, 0x6b67)) // the background's stream
	ob := rand.New(rand.NewPCG(seed, 0x6f62)) // the outbreaks'
	c := City{Seed: seed, Config: cfg}
	c.Locations = lattice(bg, cfg)
	c.Rates, c.Decoy = rates(bg, cfg)
	c.DayFactor = dayFactors(bg, cfg)
	var err error
	if c.Outbreaks, err = place(ob, cfg, c.Locations, c.Decoy, c.Rates); err != nil {
		return City{}, err
	}
	c.report(bg, ob)
	return c, nil
}

func (cfg Config) validate() error {
	bad := func(name string, v any) error { return fmt.Errorf("%w: %s = %v", ErrConfig, name, v) }
	switch {
	case cfg.Grids < 1:
		return bad("Grids", cfg.Grids)
	case cfg.Days < 1:
		return bad("Days", cfg.Days)
	case cfg.BusyWeeks < 0 || (cfg.BusyWeeks > 0 && cfg.Days < 7):
		return bad("BusyWeeks", cfg.BusyWeeks)
	case !(cfg.DecoyShare >= 0 && cfg.DecoyShare <= 1):
		return bad("DecoyShare", cfg.DecoyShare)
	case !(cfg.DecoyMin <= cfg.DecoyMax):
		return bad("DecoyMin", cfg.DecoyMin)
	case !(cfg.WeekendDip >= 0 && cfg.WeekendDip <= 1):
		return bad("WeekendDip", cfg.WeekendDip)
	case !(cfg.SeasonalAmplitude >= 0 && cfg.SeasonalAmplitude <= 1):
		return bad("SeasonalAmplitude", cfg.SeasonalAmplitude)
	case !cfg.Origin.Valid():
		return bad("Origin", cfg.Origin)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"SpacingMeters", cfg.SpacingMeters}, {"JitterMeters", cfg.JitterMeters}, {"BaseRate", cfg.BaseRate},
		{"RateSpread", cfg.RateSpread}, {"DecoyMin", cfg.DecoyMin}, {"DecoyMax", cfg.DecoyMax},
		{"BusyFactor", cfg.BusyFactor}, {"Duplicates", cfg.Duplicates}, {"StraddleShare", cfg.StraddleShare}, {"SeparationMeters", cfg.SeparationMeters},
	} {
		if !(f.v >= 0 && !math.IsInf(f.v, 1)) {
			return bad(f.name, f.v)
		}
	}
	if len(cfg.Strengths) == 0 {
		return nil
	}
	switch {
	case len(cfg.RadiiMeters) == 0:
		return bad("RadiiMeters", cfg.RadiiMeters)
	case cfg.OutbreakDays < 1:
		return bad("OutbreakDays", cfg.OutbreakDays)
	case cfg.FirstStart < 0 || cfg.FirstStart > cfg.LastStart || cfg.LastStart >= cfg.Days:
		return bad("FirstStart..LastStart", fmt.Sprint(cfg.FirstStart, "..", cfg.LastStart))
	}
	for _, s := range cfg.Strengths {
		if !(s.PerDay >= 0 && !math.IsInf(s.PerDay, 1)) || !(s.Ratio >= 0 && !math.IsInf(s.Ratio, 1)) || s.PerCity < 0 {
			return bad("Strengths "+s.Name, fmt.Sprint(s.PerDay, " a day, ", s.PerCity, " a city"))
		}
	}
	return nil
}

// metres converts an offset east and north of o into a point.
func metres(o geo.Point, east, north float64) geo.Point {
	deg := geo.EarthRadius * math.Pi / 180 // metres in a degree of latitude
	return geo.Point{Lat: o.Lat + north/deg, Lng: o.Lng + east/(deg*math.Cos(o.Lat*math.Pi/180))}
}

// lattice lays the grids out row by row on a square lattice, each jittered.
func lattice(r *rand.Rand, cfg Config) []geo.Point {
	side := int(math.Ceil(math.Sqrt(float64(cfg.Grids))))
	out := make([]geo.Point, cfg.Grids)
	for i := range out {
		jx, jy := (2*r.Float64()-1)*cfg.JitterMeters, (2*r.Float64()-1)*cfg.JitterMeters
		out[i] = metres(cfg.Origin, float64(i%side)*cfg.SpacingMeters+jx, float64(i/side)*cfg.SpacingMeters+jy)
	}
	return out
}

// rates draws every grid's baseline and picks the decoys.
func rates(r *rand.Rand, cfg Config) ([]float64, []bool) {
	rs, decoy := make([]float64, cfg.Grids), make([]bool, cfg.Grids)
	s := cfg.RateSpread
	for i := range rs {
		rs[i] = cfg.BaseRate * math.Exp(s*r.NormFloat64()-s*s/2)
	}
	for _, i := range r.Perm(cfg.Grids)[:int(math.Round(cfg.DecoyShare*float64(cfg.Grids)))] {
		decoy[i] = true
		rs[i] = cfg.BaseRate * (cfg.DecoyMin + (cfg.DecoyMax-cfg.DecoyMin)*r.Float64())
	}
	return rs, decoy
}

// dayFactors returns the city-wide factor of each day: weekends, the season
// and the busy weeks.
func dayFactors(r *rand.Rand, cfg Config) []float64 {
	f := make([]float64, cfg.Days)
	busy := make([]bool, cfg.Days)
	for range cfg.BusyWeeks {
		start := r.IntN(cfg.Days - 6)
		for d := start; d < start+7; d++ {
			busy[d] = true
		}
	}
	for d := range f {
		f[d] = 1 + cfg.SeasonalAmplitude*math.Sin(2*math.Pi*float64(d)/365.25)
		if d%7 >= 5 {
			f[d] *= 1 - cfg.WeekendDip
		}
		if busy[d] {
			f[d] *= cfg.BusyFactor
		}
	}
	return f
}

// place plants PerCity outbreaks of each strength, centred on
// ordinary grids (or between one and its nearest neighbour) at least
// SeparationMeters apart.
func place(r *rand.Rand, cfg Config, locs []geo.Point, decoy []bool, rates []float64) ([]Outbreak, error) {
	var out []Outbreak
	for _, s := range cfg.Strengths {
		for range s.PerCity {
			o, ok := placeOne(r, cfg, locs, decoy, out)
			if !ok {
				return nil, fmt.Errorf("%w: %d placed %v m apart on %d grids, then no room for a %s one",
					ErrCrowded, len(out), cfg.SeparationMeters, cfg.Grids, s.Name)
			}
			o.Strength = s
			var usual float64
			for _, g := range o.Grids {
				usual += rates[g]
			}
			o.PerDay = max(s.PerDay, (s.Ratio-1)*usual)
			o.StartDay = cfg.FirstStart + r.IntN(cfg.LastStart-cfg.FirstStart+1)
			o.EndDay = min(o.StartDay+cfg.OutbreakDays, cfg.Days) - 1
			out = append(out, o)
		}
	}
	return out, nil
}

// placeOne tries 1,000 random centres for an outbreak clear of those placed.
func placeOne(r *rand.Rand, cfg Config, locs []geo.Point, decoy []bool, placed []Outbreak) (Outbreak, bool) {
	for range 1000 {
		g := r.IntN(len(locs))
		if decoy[g] {
			continue
		}
		o := Outbreak{Centre: locs[g], RadiusMeters: cfg.RadiiMeters[r.IntN(len(cfg.RadiiMeters))]}
		if r.Float64() < cfg.StraddleShare && len(locs) > 1 {
			h := nearest(locs, locs[g], g)
			o.Straddle = true
			o.Centre = geo.Point{Lat: (locs[g].Lat + locs[h].Lat) / 2, Lng: (locs[g].Lng + locs[h].Lng) / 2}
		}
		if slices.ContainsFunc(placed, func(p Outbreak) bool {
			return geo.Distance(p.Centre, o.Centre) < cfg.SeparationMeters
		}) {
			continue
		}
		o.Grids = covered(locs, o.Centre, o.RadiusMeters)
		return o, true
	}
	return Outbreak{}, false
}

// nearest returns the grid nearest to p other than skip.
func nearest(locs []geo.Point, p geo.Point, skip int) int {
	best, bestD := -1, math.Inf(1)
	for i, q := range locs {
		if d := geo.Distance(p, q); i != skip && d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// covered returns the grids within radius of c, or within c's distance to
// its nearest grid (and a metre) if that is more, so that an outbreak of
// radius 0 covers the grid it is centred on, or both grids it straddles.
func covered(locs []geo.Point, c geo.Point, radius float64) []int {
	reach := max(radius, geo.Distance(c, locs[nearest(locs, c, -1)])+1)
	var out []int
	for i, q := range locs {
		if geo.Distance(c, q) <= reach {
			out = append(out, i)
		}
	}
	return out
}

// report draws the reports day by day: the background from bg, then the
// outbreaks' from ob.
func (c *City) report(bg, ob *rand.Rand) {
	for d, f := range c.DayFactor {
		c.background(bg, d, f)
		for k := range c.Outbreaks {
			if o := &c.Outbreaks[k]; d >= o.StartDay && d <= o.EndDay {
				c.outbreak(ob, d, k)
			}
		}
	}
}

// background adds day d's background reports, the city-wide factor f.
func (c *City) background(r *rand.Rand, d int, f float64) {
	for g, rate := range c.Rates {
		for range poisson(r, rate*f) {
			n := 1
			if c.Config.Duplicates > 0 {
				n += poisson(r, c.Config.Duplicates)
			}
			for range n {
				c.Cases = append(c.Cases, scan.Case{Location: g, Day: d})
				c.Origin = append(c.Origin, -1)
			}
		}
	}
}

// outbreak adds outbreak k's reports of day d.
func (c *City) outbreak(r *rand.Rand, d, k int) {
	o := &c.Outbreaks[k]
	n := poisson(r, o.PerDay)
	for range n {
		c.Cases = append(c.Cases, scan.Case{Location: o.Grids[r.IntN(len(o.Grids))], Day: d})
		c.Origin = append(c.Origin, k)
	}
	o.Cases += n
}

// poisson draws a Poisson count of mean lambda (Knuth's method, in steps of
// at most 30 so that e^−λ stays well within range).
func poisson(r *rand.Rand, lambda float64) int {
	n := 0
	for ; lambda > 30; lambda -= 30 {
		n += poisson(r, 30)
	}
	limit, p := math.Exp(-lambda), r.Float64()
	for p > limit {
		n++
		p *= r.Float64()
	}
	return n
}
