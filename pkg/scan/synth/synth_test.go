package synth_test

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/whistle-civic/whistle/pkg/geo"
	"github.com/whistle-civic/whistle/pkg/scan/synth"
)

// small is a quick city: 100 grids, 200 days, outbreaks from day 100.
func small() synth.Config {
	c := synth.DefaultConfig()
	c.Grids, c.Days, c.FirstStart, c.LastStart = 100, 200, 100, 180
	c.Strengths = []synth.Strength{{Name: "strong", PerDay: 2, Ratio: 10, PerCity: 3}}
	return c
}

func TestDeterministicPerSeed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		a, b      uint64
		wantEqual bool
	}{
		{"same seed", 7, 7, true},
		{"other seed", 7, 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, err := synth.Generate(tc.a, small())
			if err != nil {
				t.Fatal(err)
			}
			y, err := synth.Generate(tc.b, small())
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantEqual && !reflect.DeepEqual(x, y) {
				t.Fatal("the same seed gave two cities")
			}
			if !tc.wantEqual && slices.Equal(x.Cases, y.Cases) {
				t.Fatal("two seeds gave the same cases")
			}
		})
	}
}

// TestNullKeepsTheBackground: the same seed without outbreaks has exactly
// the background reports of the city with them.
func TestNullKeepsTheBackground(t *testing.T) {
	t.Parallel()
	with, err := synth.Generate(3, small())
	if err != nil {
		t.Fatal(err)
	}
	cfg := small()
	cfg.Strengths = nil
	null, err := synth.Generate(3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !null.Null() || with.Null() {
		t.Fatalf("Null: %v and %v", null.Null(), with.Null())
	}
	var bg = with.Cases[:0:0]
	for i, c := range with.Cases {
		if with.Origin[i] < 0 {
			bg = append(bg, c)
		}
	}
	if !slices.Equal(bg, null.Cases) {
		t.Fatalf("background of %d cases differs from the null city's %d", len(bg), len(null.Cases))
	}
}

func TestDecoyRates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		min, max float64
		share    float64
	}{
		{"5 to 10", 5, 10, 0.05},
		{"exactly 8", 8, 8, 0.1},
		{"none", 5, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := small()
			cfg.Grids, cfg.Days, cfg.DecoyMin, cfg.DecoyMax, cfg.DecoyShare = 400, 730, tc.min, tc.max, tc.share
			cfg.Strengths, cfg.FirstStart, cfg.LastStart = nil, 0, 0
			c, err := synth.Generate(11, cfg)
			if err != nil {
				t.Fatal(err)
			}
			counts := make([]int, cfg.Grids)
			for _, cs := range c.Cases {
				counts[cs.Location]++
			}
			var factor float64
			for _, f := range c.DayFactor {
				factor += f
			}
			decoys := 0
			for g, d := range c.Decoy {
				if !d {
					continue
				}
				decoys++
				if r := c.Rates[g] / cfg.BaseRate; r < tc.min || r > tc.max {
					t.Errorf("decoy %d at %.2f× the base rate; want [%v, %v]", g, r, tc.min, tc.max)
				}
				// The count is Poisson: within 4 standard deviations of its mean.
				if mean := c.Rates[g] * factor; math.Abs(float64(counts[g])-mean) > 4*math.Sqrt(mean) {
					t.Errorf("decoy %d has %d reports; want about %.0f", g, counts[g], mean)
				}
			}
			if want := int(math.Round(tc.share * float64(cfg.Grids))); decoys != want {
				t.Fatalf("%d decoys; want %d", decoys, want)
			}
		})
	}
}

func TestOutbreaksLandWhereTheTruthSays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		radius   float64
		straddle float64
		grids    [2]int // the fewest and most grids an outbreak covers
	}{
		{"one grid", 0, 0, [2]int{1, 1}},
		{"straddling two", 0, 1, [2]int{2, 2}},
		{"a neighbourhood", 450, 0, [2]int{3, 13}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := small()
			cfg.RadiiMeters, cfg.StraddleShare, cfg.JitterMeters = []float64{tc.radius}, tc.straddle, 0
			c, err := synth.Generate(5, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Outbreaks) != 3 {
				t.Fatalf("%d outbreaks; want 3", len(c.Outbreaks))
			}
			added := make([]int, len(c.Outbreaks))
			for i, cs := range c.Cases {
				k := c.Origin[i]
				if k < 0 {
					continue
				}
				o := c.Outbreaks[k]
				added[k]++
				if !slices.Contains(o.Grids, cs.Location) || cs.Day < o.StartDay || cs.Day > o.EndDay {
					t.Errorf("case %+v of outbreak %d outside its grids %v or days %d–%d", cs, k, o.Grids, o.StartDay, o.EndDay)
				}
			}
			for k, o := range c.Outbreaks {
				checkOutbreak(t, c, cfg, o, added[k], tc.grids)
			}
		})
	}
}

func checkOutbreak(t *testing.T, c synth.City, cfg synth.Config, o synth.Outbreak, added int, grids [2]int) {
	t.Helper()
	days := o.EndDay - o.StartDay + 1
	if o.StartDay < cfg.FirstStart || o.StartDay > cfg.LastStart || days != min(cfg.OutbreakDays, cfg.Days-o.StartDay) {
		t.Errorf("outbreak on days %d–%d; want a start in [%d, %d] and %d days", o.StartDay, o.EndDay, cfg.FirstStart, cfg.LastStart, cfg.OutbreakDays)
	}
	if added != o.Cases {
		t.Errorf("outbreak says %d cases, %d are marked", o.Cases, added)
	}
	var usual float64
	for _, g := range o.Grids {
		usual += c.Rates[g]
	}
	if want := max(o.Strength.PerDay, (o.Strength.Ratio-1)*usual); o.PerDay != want {
		t.Errorf("outbreak adds %v a day; want %v", o.PerDay, want)
	}
	if mean := o.PerDay * float64(days); math.Abs(float64(added)-mean) > 4*math.Sqrt(mean) {
		t.Errorf("outbreak added %d cases; want about %.0f", added, mean)
	}
	if len(o.Grids) < grids[0] || len(o.Grids) > grids[1] || !slices.IsSorted(o.Grids) {
		t.Errorf("outbreak covers grids %v; want %d to %d, ascending", o.Grids, grids[0], grids[1])
	}
	for _, g := range o.Grids {
		if d := geo.Distance(o.Centre, c.Locations[g]); d > max(o.RadiusMeters, cfg.SpacingMeters/2+1) {
			t.Errorf("grid %d is %.0f m from the centre of an outbreak of radius %v", g, d, o.RadiusMeters)
		}
		if c.Decoy[g] && len(o.Grids) == 1 {
			t.Errorf("outbreak centred on decoy %d", g)
		}
	}
	if o.Straddle != (grids[0] == 2) && o.RadiusMeters == 0 {
		t.Errorf("outbreak straddles %v; covers %v", o.Straddle, o.Grids)
	}
}

func TestOutbreaksApart(t *testing.T) {
	t.Parallel()
	c, err := synth.Generate(9, synth.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range c.Outbreaks {
		for _, b := range c.Outbreaks[i+1:] {
			if d := geo.Distance(a.Centre, b.Centre); d < c.Config.SeparationMeters {
				t.Fatalf("outbreaks %.0f m apart; want at least %v", d, c.Config.SeparationMeters)
			}
		}
	}
}

func TestDayFactors(t *testing.T) {
	t.Parallel()
	cfg := small()
	cfg.SeasonalAmplitude, cfg.BusyWeeks = 0, 0
	c, err := synth.Generate(1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for d, f := range c.DayFactor {
		want := 1.0
		if d%7 >= 5 {
			want = 1 - cfg.WeekendDip
		}
		if math.Abs(f-want) > 1e-12 {
			t.Fatalf("day %d has factor %v; want %v", d, f, want)
		}
	}
	cfg.WeekendDip, cfg.BusyWeeks, cfg.BusyFactor = 0, 1, 3
	c, err = synth.Generate(1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	busy := 0
	for _, f := range c.DayFactor {
		busy += b2i(f == 3)
	}
	if busy != 7 {
		t.Fatalf("%d busy days; want 7", busy)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*synth.Config)
		want   error
	}{
		{"no grids", func(c *synth.Config) { c.Grids = 0 }, synth.ErrConfig},
		{"no days", func(c *synth.Config) { c.Days = 0 }, synth.ErrConfig},
		{"NaN rate", func(c *synth.Config) { c.BaseRate = math.NaN() }, synth.ErrConfig},
		{"decoys the wrong way", func(c *synth.Config) { c.DecoyMin, c.DecoyMax = 10, 5 }, synth.ErrConfig},
		{"starts after the end", func(c *synth.Config) { c.LastStart = c.Days }, synth.ErrConfig},
		{"no radii", func(c *synth.Config) { c.RadiiMeters = nil }, synth.ErrConfig},
		{"crowded", func(c *synth.Config) { c.SeparationMeters = 1e6 }, synth.ErrCrowded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := small()
			tc.change(&cfg)
			if _, err := synth.Generate(1, cfg); !errors.Is(err, tc.want) {
				t.Fatalf("Generate: %v; want %v", err, tc.want)
			}
		})
	}
}

// TestDuplicates: a grid's daily count is Poisson without duplicates and
// compound Poisson with: mean λ(1+D), variance λ(1+3D+D²).
func TestDuplicates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dup  float64
	}{{"plain Poisson", 0}, {"one more on average", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := synth.DefaultConfig()
			cfg.Grids, cfg.Days, cfg.BaseRate, cfg.RateSpread, cfg.DecoyShare = 1, 20000, 2, 0, 0
			cfg.WeekendDip, cfg.SeasonalAmplitude, cfg.BusyWeeks, cfg.Strengths = 0, 0, 0, nil
			cfg.Duplicates = tc.dup
			c, err := synth.Generate(4, cfg)
			if err != nil {
				t.Fatal(err)
			}
			daily := make([]float64, cfg.Days)
			for _, cs := range c.Cases {
				daily[cs.Day]++
			}
			var mean, sq float64
			for _, n := range daily {
				mean += n / float64(cfg.Days)
				sq += n * n / float64(cfg.Days)
			}
			d := tc.dup
			wantMean, wantVar := 2*(1+d), 2*(1+3*d+d*d)
			if v := sq - mean*mean; math.Abs(mean-wantMean) > 0.05*wantMean || math.Abs(v-wantVar) > 0.1*wantVar {
				t.Errorf("daily mean %.3f, variance %.3f; want %v, %v", mean, v, wantMean, wantVar)
			}
		})
	}
}
