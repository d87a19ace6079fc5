package eval_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/scan"
	"github.com/whistle-civic/whistle/pkg/scan/eval"
	"github.com/whistle-civic/whistle/pkg/scan/synth"
)

var (
	weak   = synth.Strength{Name: "weak", PerDay: 0.3}
	strong = synth.Strength{Name: "strong", PerDay: 1, Realistic: true}
)

// two outbreaks: 0 at grids 1 and 2 on days 10–20, 1 at grid 5 on days 30–40.
var two = []synth.Outbreak{
	{Strength: strong, Grids: []int{1, 2}, StartDay: 10, EndDay: 20},
	{Strength: weak, Grids: []int{5}, StartDay: 30, EndDay: 40},
}

func alarm(day, start int, locs ...int) eval.Alarm {
	return eval.Alarm{Day: day, StartDay: start, Locations: locs}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a    eval.Alarm
		want []int
	}{
		{"inside", alarm(12, 10, 2), []int{0}},
		{"a grid of it among others", alarm(12, 5, 7, 1, 9), []int{0}},
		{"window ends on its first day", alarm(10, 4, 1), []int{0}},
		{"window starts on its last day", alarm(26, 20, 1), []int{0}},
		{"window ends the day before it", alarm(9, 3, 1), nil},
		{"window starts after it ended", alarm(27, 21, 2), nil},
		{"its days, another grid", alarm(15, 10, 3), nil},
		{"both", alarm(31, 18, 2, 5), []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			as := []eval.Alarm{tc.a}
			eval.Classify(as, two)
			if !slices.Equal(as[0].Outbreaks, tc.want) || as[0].False() != (tc.want == nil) {
				t.Fatalf("overlaps %v (false %v); want %v", as[0].Outbreaks, as[0].False(), tc.want)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		alarms []eval.Alarm
		k      int
		want   int
		ok     bool
	}{
		{"first day", []eval.Alarm{alarm(10, 10, 1)}, 0, 1, true},
		{"the earliest counts", []eval.Alarm{alarm(3, 1, 1), alarm(14, 8, 2), alarm(16, 10, 1)}, 0, 5, true},
		{"another outbreak's alarm", []eval.Alarm{alarm(14, 8, 5)}, 0, 0, false},
		{"none", nil, 1, 0, false},
		{"the second outbreak", []eval.Alarm{alarm(14, 8, 1), alarm(45, 38, 5)}, 1, 16, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			as := slices.Clone(tc.alarms)
			eval.Classify(as, two)
			if d, ok := eval.Delay(as, two[tc.k], tc.k); d != tc.want || ok != tc.ok {
				t.Fatalf("Delay = %d, %v; want %d, %v", d, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		alarms []eval.Alarm
		gap    int
		want   []int // each event's first alarm's day
	}{
		{"none", nil, 7, nil},
		{"the same grid daily", []eval.Alarm{alarm(1, 1, 4), alarm(2, 1, 4), alarm(3, 1, 4)}, 7, []int{1}},
		{"back after the gap", []eval.Alarm{alarm(1, 1, 4), alarm(8, 8, 4), alarm(16, 16, 4)}, 7, []int{1, 16}},
		{"two places a day", []eval.Alarm{alarm(1, 1, 4), alarm(1, 1, 5)}, 7, []int{1, 1}},
		{"a growing cylinder", []eval.Alarm{alarm(1, 1, 4), alarm(3, 1, 4, 5), alarm(6, 2, 5, 6), alarm(9, 3, 6)}, 7, []int{1}},
		{"gap 0", []eval.Alarm{alarm(1, 1, 4), alarm(1, 1, 4), alarm(2, 1, 4)}, 0, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []int
			for _, e := range eval.Events(tc.alarms, tc.gap) {
				got = append(got, e.First.Day)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("events first on days %v; want %v", got, tc.want)
			}
		})
	}
}

// TestSummarise checks the figures of two hand-made cities: one with the
// two outbreaks above, one null.
func TestSummarise(t *testing.T) {
	t.Parallel()
	p := eval.DefaultParams()
	p.Scan.MaxWindowDays, p.DetectDays = 7, 5
	decoy := make([]bool, 10)
	decoy[9] = true
	withOutbreaks := eval.CityResult{
		Outbreaks: two, Decoy: decoy, FirstDay: 0, Days: 60, FullRuns: 20,
		Alarms: []eval.Alarm{
			alarm(3, 1, 7),      // false, at grid 7
			alarm(4, 2, 7),      // its continuation
			alarm(13, 11, 1),    // outbreak 0 on its 4th day: detected
			alarm(14, 11, 1),    // continuation
			alarm(14, 14, 9),    // false, at the decoy
			alarm(45, 40, 5),    // outbreak 1 on day 16: late
			alarm(50, 45, 7, 8), // false again, 46 days after the first
		},
	}
	null := eval.CityResult{
		Decoy: make([]bool, 10), Days: 30, FullRuns: 2,
		Alarms: []eval.Alarm{alarm(5, 5, 3), alarm(6, 5, 3)},
	}
	results := []eval.CityResult{withOutbreaks, null}
	for i := range results {
		eval.Classify(results[i].Alarms, results[i].Outbreaks)
	}
	f := eval.Summarise(results, p)
	want := eval.Figures{
		Strengths: []eval.Row{
			{Name: "strong", Planted: 1, Detected: 1, Delays: []int{4}},
			{Name: "weak", Planted: 1, Late: 1},
		},
		Realistic:      eval.Row{Name: "realistic", Planted: 1, Detected: 1, Delays: []int{4}},
		OutbreakCities: 1, NullCities: 1, OutbreakDays: 60, NullDays: 30,
		TrueAlarms: 2, FalseAlarms: 3, FalseDays: 4, NullAlarms: 1, NullAlarmDays: 2,
		DecoyAlarms: 1, DecoyCentred: 1, DecoyGrids: 1, Grids: 20, FullRuns: 22,
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("Summarise:\n got %+v\nwant %+v", f, want)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"sensitivity", f.Realistic.Sensitivity(), 1},
		{"weak sensitivity", f.Strengths[1].Sensitivity(), 0},
		{"false share", f.FalseShare(), 3.0 / 5},
		{"false a month", f.FalsePerMonth(), 1.5},
		{"false day share", f.FalseDayShare(), 4.0 / 60},
		{"null a month", f.NullPerMonth(), 1},
		{"null day share", f.NullDayShare(), 2.0 / 30},
		{"decoy alarm share", f.DecoyAlarmShare(), 1.0 / 4},
		{"decoy centred share", f.DecoyCentredShare(), 1.0 / 4},
		{"decoy grid share", f.DecoyGridShare(), 1.0 / 20},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
}

func TestDelayPercentiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		delays      []int
		median, p90 int
	}{
		{nil, 0, 0},
		{[]int{3}, 3, 3},
		{[]int{1, 2}, 1, 2},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 9},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 6, 10},
	} {
		r := eval.Row{Delays: tc.delays}
		if r.MedianDelay() != tc.median || r.P90Delay() != tc.p90 {
			t.Errorf("%v: median %d, p90 %d; want %d, %d", tc.delays, r.MedianDelay(), r.P90Delay(), tc.median, tc.p90)
		}
	}
}

// city is a small city with one strong spot outbreak and its null twin.
func city(t *testing.T, null bool) synth.City {
	t.Helper()
	cfg := synth.DefaultConfig()
	cfg.Grids, cfg.Days, cfg.FirstStart, cfg.LastStart = 100, 120, 95, 95
	cfg.RadiiMeters, cfg.StraddleShare, cfg.DecoyShare = []float64{0}, 0, 0
	cfg.Strengths = []synth.Strength{{Name: "strong", PerDay: 3, Realistic: true, PerCity: 1}}
	if null {
		cfg.Strengths = nil
	}
	c, err := synth.Generate(2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func smallParams() eval.Params {
	p := eval.DefaultParams()
	p.StudyDays, p.EvalDays, p.Scan.Replicas = 90, 31, 199
	return p
}

func TestRunCity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		null   bool
		screen int
	}{
		{"outbreak, screened", false, 49},
		{"outbreak, no screen", false, 0},
		{"null", true, 49},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, p := city(t, tc.null), smallParams()
			p.ScreenReplicas = tc.screen
			r, err := eval.RunCity(context.Background(), c, p)
			if err != nil {
				t.Fatal(err)
			}
			if r.FirstDay != 89 || r.Days != 31 || (tc.screen == 0 && r.FullRuns != 31) {
				t.Fatalf("days %d from %d, %d full runs", r.Days, r.FirstDay, r.FullRuns)
			}
			f := eval.Summarise([]eval.CityResult{r}, p)
			if tc.null {
				if f.NullAlarms > 1 {
					t.Fatalf("%d alarms on a null city: %+v", f.NullAlarms, r.Alarms)
				}
				return
			}
			if f.Realistic.Detected != 1 || f.Realistic.MedianDelay() > 3 {
				t.Fatalf("a 21-a-week outbreak: %+v; alarms %+v", f.Realistic, r.Alarms)
			}
			again, _ := eval.RunCity(context.Background(), c, p)
			if !reflect.DeepEqual(again, r) {
				t.Fatal("two runs differ")
			}
		})
	}
}

func TestRunCityErrors(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		change func(*eval.Params)
		want   error
	}{
		{"study too long", context.Background(), func(p *eval.Params) { p.StudyDays = 100 }, eval.ErrHistory},
		{"no study", context.Background(), func(p *eval.Params) { p.StudyDays = 0 }, eval.ErrParams},
		{"p above 1", context.Background(), func(p *eval.Params) { p.AlarmP = 2 }, eval.ErrParams},
		{"p 0", context.Background(), func(p *eval.Params) { p.AlarmP = 0 }, eval.ErrParams},
		{"canceled", canceled, func(*eval.Params) {}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := smallParams()
			tc.change(&p)
			if _, err := eval.RunCity(tc.ctx, city(t, true), p); !errors.Is(err, tc.want) {
				t.Fatalf("RunCity: %v; want %v", err, tc.want)
			}
		})
	}
}

// TestIncidentBursts: three grids with a report each a day for 30 days,
// and a burst of 20 more at grid 0 on the last day. Counted as they are,
// the burst is a cluster (c = 21 against μ = 50·23/110 ≈ 10.5); one a grid
// a day, every grid-day counts 1 and nothing stands out; and its reports
// are all on one day, so MinDays 2 drops it.
func TestIncidentBursts(t *testing.T) {
	t.Parallel()
	c := synth.City{Locations: line3(), DayFactor: make([]float64, 30), Decoy: make([]bool, 3)}
	for d := range 30 {
		for g := range 3 {
			c.Cases = append(c.Cases, scan.Case{Location: g, Day: d})
		}
	}
	for range 20 {
		c.Cases = append(c.Cases, scan.Case{Location: 0, Day: 29})
	}
	for _, tc := range []struct {
		name    string
		once    bool
		minDays int
		alarms  int
	}{
		{"as they are", false, 0, 1},
		{"one a grid a day", true, 0, 0},
		{"on 2 days at least", false, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := eval.Params{
				Scan: scan.Params{Replicas: 99, MaxWindowDays: 1}, StudyDays: 30, EvalDays: 1, AlarmP: 0.05,
				DetectDays: 1, OnePerGridDay: tc.once, MinDays: tc.minDays,
			}
			r, err := eval.RunCity(context.Background(), c, p)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Alarms) != tc.alarms {
				t.Errorf("alarms %+v; want %d", r.Alarms, tc.alarms)
			}
		})
	}
}

// line3 is three points 300 m apart.
func line3() []geo.Point {
	return []geo.Point{{Lat: 39.9, Lng: 116.4}, {Lat: 39.9027, Lng: 116.4}, {Lat: 39.9054, Lng: 116.4}}
}
