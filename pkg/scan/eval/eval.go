// Package eval measures the hot spot scan (package scan) on synthetic cities
// (package synth) the way monitoring runs it: prospectively, once a day, on
// the last StudyDays days of reports, raising an alarm for every cluster
// with a p-value of at most AlarmP.
//
// Definitions, all over the analysed days of the cities:
//
//   - An alarm is a cluster of one day's run with P ≤ AlarmP. It overlaps an
//     outbreak when its cylinder holds one of the outbreak's grids and its
//     window (StartDay to the day of the run) meets the outbreak's days; it
//     is true if it overlaps one, false otherwise.
//   - An outbreak is detected when a true alarm overlaps it by its
//     DetectDays-th day; the delay is the day of the first such alarm less
//     the outbreak's start, plus one (1: alarmed on its first day).
//     Sensitivity is detected over planted.
//   - Alarms are counted as monitoring would raise tickets: an alarm sharing
//     a grid with an alarm of the same kind (true or false) at most
//     MaxWindowDays days before continues it (one ticket), else it is a new
//     one. False alarms per month are these per 30 city-days; the false
//     share is false over all of them; the false day share is the share of
//     city-days with a false alarm.
//
// Each day first runs a screening scan of ScreenReplicas replicas and, only
// when its most likely cluster could be significant (p ≤ max(0.05,
// 10·AlarmP) of those replicas), the full one; see Params.ScreenReplicas.
package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/scan"
	"github.com/whistle-civic/whistle/pkg/scan/synth"
)

// ErrParams is returned (wrapped) for Params that cannot run: a study or
// evaluation period under a day, AlarmP outside (0, 1], DetectDays under 1
// or a negative ScreenReplicas.
var ErrParams = errors.New("eval: invalid parameters")

// ErrHistory is returned when a city has fewer days than StudyDays − 1 +
// EvalDays: its first analysed day would see less than a full study period.
var ErrHistory = errors.New("eval: city shorter than the study and evaluation periods")

// Params is how the daily runs are made and judged. RunCity uses every
// field as it is; start from DefaultParams.
type Params struct {
	// Scan is passed to scan.Scan (its zero fields take scan's defaults),
	// but for Seed, mixed with the city's seed and the day, and ReportP.
	Scan scan.Params
	// StudyDays is the days of reports each run sees, today included.
	StudyDays int
	// EvalDays is how many of a city's last days are analysed, a run each.
	EvalDays int
	// AlarmP is the largest p-value of an alarm.
	AlarmP float64
	// DetectDays is D: an outbreak counts as detected when alarmed by its
	// D-th day.
	DetectDays int
	// OnePerGridDay counts at most one report a grid a day, so that a
	// burst of reports of one incident on one day (residents reporting the
	// same thing) weighs as one; a recurring problem shows on many days.
	OnePerGridDay bool
	// MinDays drops a cluster whose reports fall on fewer distinct days,
	// after the scan (its p-value is the scan's): a one-day burst is an
	// incident, a recurring problem shows on several days. 0 or 1: none.
	MinDays int
	// ScreenReplicas, when above 0 and below Scan.Replicas, runs a scan of
	// that many replicas first and the full one only if its most likely
	// cluster has p ≤ max(0.05, 10·AlarmP). With 99 and AlarmP ≤ 0.005, a
	// cluster whose true p is AlarmP passes with probability above 0.9998
	// (5 or more of 99 replicas would have to beat it), so the alarms are
	// the full scan's but for that. A day after one with an alarm skips
	// the screen (it would pass). 0 always runs the full scan.
	ScreenReplicas int
}

// DefaultParams returns the tuned defaults (docs/hotspots.md): circles up to
// 500 m, windows up to 14 days, at least 3 cases, 999 replicas, alarms at
// p ≤ 0.005 (a recurrence interval of 200 days), a 365-day study, the last
// 90 days analysed, detection within 14 days, a 99-replica screen.
func DefaultParams() Params {
	return Params{
		Scan:      scan.Params{MaxRadiusMeters: 500, MaxWindowDays: 14, MinCases: 3, Replicas: 999},
		StudyDays: 365, EvalDays: 90, AlarmP: 0.005, DetectDays: 14, ScreenReplicas: 99,
	}
}

func (p Params) validate() error {
	switch {
	case p.StudyDays < 1, p.EvalDays < 1, p.DetectDays < 1, p.ScreenReplicas < 0:
		return fmt.Errorf("%w: StudyDays %d, EvalDays %d, DetectDays %d, ScreenReplicas %d",
			ErrParams, p.StudyDays, p.EvalDays, p.DetectDays, p.ScreenReplicas)
	case !(p.AlarmP > 0 && p.AlarmP <= 1):
		return fmt.Errorf("%w: AlarmP %v", ErrParams, p.AlarmP)
	}
	return nil
}

// window is the longest window, scan's default (7) when unset.
func (p Params) window() int { return cmp0(p.Scan.MaxWindowDays, 7) }

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Alarm is one cluster of a daily run with P ≤ AlarmP; days are the city's.
type Alarm struct {
	Day       int   // the day of the run, the window's last
	StartDay  int   // the window's first day
	Locations []int // the cylinder's grids, its centre first
	Observed  int
	Expected  float64
	P         float64
	Outbreaks []int // the outbreaks it overlaps (indices into the city's); none: a false alarm
}

// False reports whether a overlaps no outbreak.
func (a Alarm) False() bool { return len(a.Outbreaks) == 0 }

// CityResult is what the daily runs over one city found.
type CityResult struct {
	Seed      uint64
	Outbreaks []synth.Outbreak // the city's ground truth
	Decoy     []bool           // the city's decoy grids
	FirstDay  int              // the first analysed day
	Days      int              // the analysed days, FirstDay to FirstDay+Days-1
	Alarms    []Alarm          // by day, classified
	FullRuns  int              // the days that ran the full scan (passed the screen)
}

// RunCity runs the scan on each of c's last EvalDays days over the
// StudyDays ending there, and classifies the alarms against c's outbreaks.
// c's days are len(c.DayFactor), its Cases by day (as Generate makes them).
// It fails with ErrParams, ErrHistory, scan's errors, or ctx's error
// between two days (with what it found so far).
func RunCity(ctx context.Context, c synth.City, p Params) (CityResult, error) {
	if err := p.validate(); err != nil {
		return CityResult{}, err
	}
	days := len(c.DayFactor)
	res := CityResult{Seed: c.Seed, Outbreaks: c.Outbreaks, Decoy: c.Decoy, FirstDay: days - p.EvalDays, Days: p.EvalDays}
	if res.FirstDay < p.StudyDays-1 {
		return CityResult{}, fmt.Errorf("%w: %d days, study %d, evaluation %d", ErrHistory, days, p.StudyDays, p.EvalDays)
	}
	var buf []scan.Case
	screen := true
	for t := res.FirstDay; t < days; t++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		from := t - p.StudyDays + 1
		buf = study(buf[:0], c.Cases, from, t, p.OnePerGridDay)
		cls, full, err := p.runDay(c.Locations, buf, mix(p.Scan.Seed, c.Seed, uint64(t)), screen)
		if err != nil {
			return res, fmt.Errorf("day %d: %w", t, err)
		}
		screen = len(cls) == 0 // after an alarm, the screen would pass
		if full {
			res.FullRuns++
		}
		for _, cl := range cls {
			if distinctDays(buf, cl.Cases) < p.MinDays {
				continue
			}
			res.Alarms = append(res.Alarms, Alarm{
				Day: t, StartDay: from + cl.StartDay, Locations: cl.Locations,
				Observed: cl.Observed, Expected: cl.Expected, P: cl.P,
			})
		}
	}
	Classify(res.Alarms, c.Outbreaks)
	return res, nil
}

// study appends to buf the cases (by day) of days from to to, their days
// counted from from; with once, only the first of a grid's cases a day.
func study(buf, cases []scan.Case, from, to int, once bool) []scan.Case {
	lo := sort.Search(len(cases), func(i int) bool { return cases[i].Day >= from })
	hi := sort.Search(len(cases), func(i int) bool { return cases[i].Day > to })
	var seen map[scan.Case]bool
	if once {
		seen = map[scan.Case]bool{}
	}
	for _, cs := range cases[lo:hi] {
		if seen != nil {
			if seen[cs] {
				continue
			}
			seen[cs] = true
		}
		buf = append(buf, scan.Case{Location: cs.Location, Day: cs.Day - from})
	}
	return buf
}

// distinctDays counts the days of cases[i] for i in idx.
func distinctDays(cases []scan.Case, idx []int) int {
	days := map[int]bool{}
	for _, i := range idx {
		days[cases[i].Day] = true
	}
	return len(days)
}

// runDay scans one study period: the screen if asked for, then, if it
// passes, the full scan. It returns the clusters with P ≤ AlarmP and
// whether the full scan ran.
func (p Params) runDay(locs []geo.Point, cases []scan.Case, seed uint64, screen bool) ([]scan.Cluster, bool, error) {
	sp := p.Scan
	if screen && p.ScreenReplicas > 0 && p.ScreenReplicas < cmp0(sp.Replicas, 999) {
		q := sp
		q.Seed, q.Replicas, q.MaxClusters, q.ReportP = seed, p.ScreenReplicas, 1, min(1, max(0.05, 10*p.AlarmP))
		res, err := scan.Scan(locs, cases, p.StudyDays, q)
		if err != nil || len(res.Clusters) == 0 {
			return nil, false, err
		}
	}
	sp.Seed, sp.ReportP = mix(seed, 1, 0), p.AlarmP // replicas independent of the screen's
	res, err := scan.Scan(locs, cases, p.StudyDays, sp)
	return res.Clusters, true, err
}

// mix hashes a, b and c into a seed (SplitMix64 steps).
func mix(a, b, c uint64) uint64 {
	h := a
	for _, v := range []uint64{b, c} {
		h += v + 0x9e3779b97f4a7c15
		h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
		h = (h ^ h>>27) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}

// Classify sets each alarm's Outbreaks: those whose grids its cylinder
// holds one of and whose days its window meets.
func Classify(alarms []Alarm, outbreaks []synth.Outbreak) {
	for i := range alarms {
		a := &alarms[i]
		a.Outbreaks = nil
		for k, o := range outbreaks {
			if a.StartDay <= o.EndDay && a.Day >= o.StartDay && shares(a.Locations, o.Grids) {
				a.Outbreaks = append(a.Outbreaks, k)
			}
		}
	}
}

// shares reports whether a and b have an element in common.
func shares(a, b []int) bool {
	return slices.ContainsFunc(a, func(x int) bool { return slices.Contains(b, x) })
}

// Delay returns the delay of outbreak k's first alarm, its day less the
// outbreak's start plus one, and false when no alarm overlaps it.
func Delay(alarms []Alarm, o synth.Outbreak, k int) (int, bool) {
	for _, a := range alarms {
		if slices.Contains(a.Outbreaks, k) {
			return a.Day - o.StartDay + 1, true
		}
	}
	return 0, false
}

// Event is a run of alarms monitoring would raise one ticket for.
type Event struct {
	First     Alarm // the alarm that raised it
	Locations []int // the grids of all its alarms
	LastDay   int   // the day of its latest alarm
}

// Events groups alarms (by day) into events: an alarm sharing a grid with
// an event whose latest alarm is at most gap days older continues it (the
// first such), others raise a new one.
func Events(alarms []Alarm, gap int) []Event {
	var evs []Event
	for _, a := range alarms {
		i := slices.IndexFunc(evs, func(e Event) bool { return e.LastDay >= a.Day-gap && shares(e.Locations, a.Locations) })
		if i < 0 {
			evs = append(evs, Event{First: a, Locations: slices.Clone(a.Locations), LastDay: a.Day})
			continue
		}
		e := &evs[i]
		e.LastDay = a.Day
		for _, l := range a.Locations {
			if !slices.Contains(e.Locations, l) {
				e.Locations = append(e.Locations, l)
			}
		}
	}
	return evs
}

// split returns the true alarms and the false ones.
func split(alarms []Alarm) (trueA, falseA []Alarm) {
	for _, a := range alarms {
		if a.False() {
			falseA = append(falseA, a)
		} else {
			trueA = append(trueA, a)
		}
	}
	return trueA, falseA
}

// falseDays counts the days with a false alarm.
func falseDays(alarms []Alarm) int {
	days := map[int]bool{}
	for _, a := range alarms {
		if a.False() {
			days[a.Day] = true
		}
	}
	return len(days)
}

// percentile returns the nearest-rank q-quantile of sorted xs, 0 if empty.
func percentile(xs []int, q float64) int {
	if len(xs) == 0 {
		return 0
	}
	return xs[max(0, int(math.Ceil(q*float64(len(xs))))-1)]
}

// Row is the detection figures of one outbreak strength, or of several.
type Row struct {
	Name     string
	Planted  int
	Detected int   // alarmed by their DetectDays-th day
	Late     int   // alarmed, but only later
	Delays   []int // the detected ones' delays, ascending
}

// Sensitivity is Detected / Planted, 0 when nothing was planted.
func (r Row) Sensitivity() float64 { return ratio(r.Detected, r.Planted) }

// MedianDelay is the detected outbreaks' median delay (nearest rank), 0 if none.
func (r Row) MedianDelay() int { return percentile(r.Delays, 0.5) }

// P90Delay is their 90th percentile delay (nearest rank), 0 if none.
func (r Row) P90Delay() int { return percentile(r.Delays, 0.9) }

func (r *Row) add(delay int, alarmed bool, within int) {
	r.Planted++
	switch {
	case alarmed && delay <= within:
		r.Detected++
		i, _ := slices.BinarySearch(r.Delays, delay)
		r.Delays = slices.Insert(r.Delays, i, delay)
	case alarmed:
		r.Late++
	}
}

// Figures sums up the results of many cities. Alarm counts are tickets
// (Events); "outbreak cities" are those with outbreaks, "null" the others.
type Figures struct {
	Strengths      []Row // one per strength, in the order first planted
	Realistic      Row   // the Realistic strengths together
	OutbreakCities int
	NullCities     int
	OutbreakDays   int // city-days analysed on outbreak cities
	NullDays       int // and on null ones
	TrueAlarms     int // on outbreak cities
	FalseAlarms    int // on outbreak cities
	FalseDays      int // outbreak city-days with a false alarm
	NullAlarms     int // on null cities (all false)
	NullAlarmDays  int // null city-days with an alarm
	DecoyAlarms    int // false alarms on any city whose first cylinder holds a decoy grid
	DecoyCentred   int // those whose first cylinder is centred on one
	DecoyGrids     int // decoy grids over all cities
	Grids          int // grids over all cities
	FullRuns       int // days the full scan ran (passed the screen)
}

// FalseShare is the share of the outbreak cities' alarms that are false.
func (f Figures) FalseShare() float64 { return ratio(f.FalseAlarms, f.TrueAlarms+f.FalseAlarms) }

// FalsePerMonth is the outbreak cities' false alarms per 30 city-days.
func (f Figures) FalsePerMonth() float64 { return 30 * ratio(f.FalseAlarms, f.OutbreakDays) }

// FalseDayShare is the share of outbreak city-days with a false alarm.
func (f Figures) FalseDayShare() float64 { return ratio(f.FalseDays, f.OutbreakDays) }

// NullPerMonth is the null cities' alarms per 30 city-days.
func (f Figures) NullPerMonth() float64 { return 30 * ratio(f.NullAlarms, f.NullDays) }

// NullDayShare is the share of null city-days with an alarm.
func (f Figures) NullDayShare() float64 { return ratio(f.NullAlarmDays, f.NullDays) }

// DecoyAlarmShare is the share of false alarms (any city) holding a decoy
// grid; a cylinder of n grids holds one by chance with probability about
// 1 − (1 − DecoyGridShare)ⁿ.
func (f Figures) DecoyAlarmShare() float64 {
	return ratio(f.DecoyAlarms, f.FalseAlarms+f.NullAlarms)
}

// DecoyCentredShare is the share of false alarms (any city) centred on a
// decoy grid, to compare with DecoyGridShare.
func (f Figures) DecoyCentredShare() float64 {
	return ratio(f.DecoyCentred, f.FalseAlarms+f.NullAlarms)
}

// DecoyGridShare is the share of grids that are decoys.
func (f Figures) DecoyGridShare() float64 { return ratio(f.DecoyGrids, f.Grids) }

// ratio is a/b, 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Summarise adds up results, run with p, into Figures.
func Summarise(results []CityResult, p Params) Figures {
	var f Figures
	f.Realistic.Name = "realistic"
	for _, r := range results {
		f.add(r, p)
	}
	return f
}

func (f *Figures) add(r CityResult, p Params) {
	trueA, falseA := split(r.Alarms)
	falseEv := Events(falseA, p.window())
	for _, e := range falseEv {
		if slices.ContainsFunc(e.First.Locations, func(l int) bool { return r.Decoy[l] }) {
			f.DecoyAlarms++
			f.DecoyCentred += b2i(r.Decoy[e.First.Locations[0]])
		}
	}
	for _, d := range r.Decoy {
		f.DecoyGrids += b2i(d)
	}
	f.Grids += len(r.Decoy)
	f.FullRuns += r.FullRuns
	if len(r.Outbreaks) == 0 {
		f.NullCities++
		f.NullDays += r.Days
		f.NullAlarms += len(falseEv)
		f.NullAlarmDays += falseDays(r.Alarms)
		return
	}
	f.OutbreakCities++
	f.OutbreakDays += r.Days
	f.TrueAlarms += len(Events(trueA, p.window()))
	f.FalseAlarms += len(falseEv)
	f.FalseDays += falseDays(r.Alarms)
	for k, o := range r.Outbreaks {
		delay, ok := Delay(r.Alarms, o, k)
		i := slices.IndexFunc(f.Strengths, func(row Row) bool { return row.Name == o.Strength.Name })
		if i < 0 {
			f.Strengths = append(f.Strengths, Row{Name: o.Strength.Name})
			i = len(f.Strengths) - 1
		}
		f.Strengths[i].add(delay, ok, p.DetectDays)
		if o.Strength.Realistic {
			f.Realistic.add(delay, ok, p.DetectDays)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
