// Command hotspoteval evaluates the hot spot scan (`make hotspot-eval`): it
// generates synthetic cities (pkg/scan/synth), some with planted recurring
// problems and some null, runs the scan on each the way monitoring will
// (pkg/scan/eval: once a day over the last study period), and prints the
// sensitivity and delays per outbreak strength, the false alarms on both
// kinds of city and the parameters used. It exits 1 when the realistic
// sensitivity is under 95 %, more than 5 % of the alarms on outbreak cities
// are false, or more than 5 % of null city-days have an alarm; 2 on an
// error. Progress goes to stderr, a line a city. docs/hotspots.md has the
// definitions and the figures the defaults were tuned on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/whistle-civic/whistle/pkg/scan/eval"
	"github.com/whistle-civic/whistle/pkg/scan/synth"
)

// The gates of the evaluation.
const (
	minSensitivity = 0.95
	maxFalseShare  = 0.05
	maxNullDays    = 0.05
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hotspoteval:", err)
		if errors.Is(err, errGates) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

var errGates = errors.New("a gate failed")

// options are the command's flags.
type options struct {
	seed          uint64
	cities, nulls int
	city          synth.Config
	params        eval.Params
}

func parse(args []string, stderr io.Writer) (options, error) {
	o := options{city: synth.DefaultConfig(), params: eval.DefaultParams()}
	fs := flag.NewFlagSet("hotspoteval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the cities (city i's is derived from it)")
	fs.IntVar(&o.cities, "cities", 16, "cities with outbreaks")
	fs.IntVar(&o.nulls, "null", 16, "null cities (no outbreak)")
	fs.IntVar(&o.params.EvalDays, "days", o.params.EvalDays, "days analysed per city, a run each; the outbreaks start in them")
	fs.IntVar(&o.city.Grids, "grids", o.city.Grids, "grids per city")
	fs.Float64Var(&o.city.Duplicates, "duplicates", o.city.Duplicates, "mean duplicates of each background report (bursty noise; 0: Poisson)")
	fs.IntVar(&o.params.StudyDays, "study", o.params.StudyDays, "study period of each run, days")
	fs.Float64Var(&o.params.Scan.MaxRadiusMeters, "radius", o.params.Scan.MaxRadiusMeters, "largest circle radius, metres")
	fs.IntVar(&o.params.Scan.MaxWindowDays, "window", o.params.Scan.MaxWindowDays, "longest window, days")
	fs.IntVar(&o.params.Scan.MinCases, "min-cases", o.params.Scan.MinCases, "fewest cases of a cluster")
	fs.IntVar(&o.params.Scan.Replicas, "replicas", o.params.Scan.Replicas, "Monte Carlo replicas of the full scan")
	fs.IntVar(&o.params.ScreenReplicas, "screen", o.params.ScreenReplicas, "replicas of the screening scan (0: none)")
	fs.Float64Var(&o.params.AlarmP, "p", o.params.AlarmP, "alarm threshold on the p-value")
	fs.IntVar(&o.params.MinDays, "min-days", o.params.MinDays, "drop alarms whose reports fall on fewer distinct days")
	fs.BoolVar(&o.params.OnePerGridDay, "one-per-grid-day", o.params.OnePerGridDay, "count at most one report a grid a day")
	fs.IntVar(&o.params.DetectDays, "detect", o.params.DetectDays, "an outbreak counts as detected when alarmed by this day of it")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.cities < 0 || o.nulls < 0 || o.cities+o.nulls == 0 {
		return o, fmt.Errorf("-cities %d, -null %d: need a city", o.cities, o.nulls)
	}
	if o.params.StudyDays < 1 || o.params.DetectDays < 1 || o.params.EvalDays < o.params.DetectDays {
		return o, fmt.Errorf("-study %d, -days %d, -detect %d: need 1 ≤ detect ≤ days and study ≥ 1",
			o.params.StudyDays, o.params.EvalDays, o.params.DetectDays)
	}
	// The first analysed day sees a full study; outbreaks start in the
	// analysed days, DetectDays before the end at the latest.
	o.city.Days = o.params.StudyDays - 1 + o.params.EvalDays
	o.city.FirstStart = o.city.Days - o.params.EvalDays
	o.city.LastStart = o.city.Days - o.params.DetectDays
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	began := time.Now()
	var results []eval.CityResult
	for i := range o.cities + o.nulls {
		cfg, null := o.city, i >= o.cities
		if null {
			cfg.Strengths = nil
		}
		seed := o.seed<<20 + uint64(i)
		r, err := cityRun(ctx, seed, cfg, o.params)
		if err != nil {
			return fmt.Errorf("city %d (seed %d): %w", i+1, seed, err)
		}
		results = append(results, r)
		progress(stderr, i+1, o.cities+o.nulls, r, o.params, time.Since(began))
	}
	f := eval.Summarise(results, o.params)
	report(stdout, o, f, time.Since(began))
	if !pass(f) {
		return errGates
	}
	return nil
}

func cityRun(ctx context.Context, seed uint64, cfg synth.Config, p eval.Params) (eval.CityResult, error) {
	c, err := synth.Generate(seed, cfg)
	if err != nil {
		return eval.CityResult{}, err
	}
	return eval.RunCity(ctx, c, p)
}

func progress(w io.Writer, i, n int, r eval.CityResult, p eval.Params, elapsed time.Duration) {
	f := eval.Summarise([]eval.CityResult{r}, p)
	if len(r.Outbreaks) == 0 {
		fmt.Fprintf(w, "city %d/%d null: %d alarms, %d full runs of %d days (%s)\n",
			i, n, f.NullAlarms, f.FullRuns, r.Days, elapsed.Round(time.Second))
		return
	}
	det := 0
	for _, row := range f.Strengths {
		det += row.Detected
	}
	fmt.Fprintf(w, "city %d/%d: %d of %d outbreaks detected, %d true and %d false alarms, %d full runs of %d days (%s)\n",
		i, n, det, len(r.Outbreaks), f.TrueAlarms, f.FalseAlarms, f.FullRuns, r.Days, elapsed.Round(time.Second))
}

func pass(f eval.Figures) bool {
	return f.Realistic.Sensitivity() >= minSensitivity && f.FalseShare() <= maxFalseShare && f.NullDayShare() <= maxNullDays
}

func report(w io.Writer, o options, f eval.Figures, wall time.Duration) {
	fmt.Fprintln(w, "hot spot evaluation: the prospective space-time permutation scan on synthetic cities")
	fmt.Fprintln(w)
	setup(w, o, f)
	fmt.Fprintln(w)
	detection(w, o.city.Strengths, f)
	fmt.Fprintln(w)
	alarms(w, o.params, f)
	fmt.Fprintln(w)
	gate(w, "realistic sensitivity", f.Realistic.Sensitivity(), "≥", minSensitivity)
	gate(w, "false share of alarms (outbreak cities)", f.FalseShare(), "≤", maxFalseShare)
	gate(w, "null city-days with an alarm", f.NullDayShare(), "≤", maxNullDays)
	fmt.Fprintf(w, "\n%d full scans of %d daily runs; wall time %s\n", f.FullRuns, f.OutbreakDays+f.NullDays, wall.Round(time.Second))
}

// setup prints the cities and the parameters.
func setup(w io.Writer, o options, f eval.Figures) {
	c, p := o.city, o.params
	planted := 0
	for _, s := range c.Strengths {
		planted += s.PerCity
	}
	fmt.Fprintf(w, "cities     %d with %d outbreaks each, %d null; seed %d\n", f.OutbreakCities, planted, f.NullCities, o.seed)
	fmt.Fprintf(w, "city       %d grids %.0f m apart, %.2f reports/grid/day (σ %.1f), %.0f%% decoys at %.0f–%.0f×, weekends −%.0f%%, season ±%.0f%%, %d busy weeks ×%.0f, %g duplicates a report\n",
		c.Grids, c.SpacingMeters, c.BaseRate, c.RateSpread, 100*c.DecoyShare, c.DecoyMin, c.DecoyMax, 100*c.WeekendDip, 100*c.SeasonalAmplitude, c.BusyWeeks, c.BusyFactor, c.Duplicates)
	fmt.Fprintf(w, "outbreaks  %d days long, radius %v m, %.0f%% between two grids, starting on days %d–%d of %d\n",
		c.OutbreakDays, c.RadiiMeters, 100*c.StraddleShare, c.FirstStart, c.LastStart, c.Days)
	fmt.Fprintf(w, "runs       daily over the last %d days of a %d-day study; radius ≤ %.0f m, window ≤ %d days, ≥ %d cases, %d replicas (screen %d)\n",
		p.EvalDays, p.StudyDays, p.Scan.MaxRadiusMeters, p.Scan.MaxWindowDays, p.Scan.MinCases, p.Scan.Replicas, p.ScreenReplicas)
	fmt.Fprintf(w, "alarm      a cluster with p ≤ %g (recurrence %.0f days); detected: an alarm on its grids by its day %d\n",
		p.AlarmP, 1/p.AlarmP, p.DetectDays)
	if p.OnePerGridDay {
		fmt.Fprintln(w, "input      at most one report a grid a day")
	}
	if p.MinDays > 1 {
		fmt.Fprintf(w, "filter     alarms with reports on at least %d distinct days\n", p.MinDays)
	}
}

// detection prints the table of sensitivity and delay by strength.
func detection(w io.Writer, strengths []synth.Strength, f eval.Figures) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strength\textra reports\tplanted\tdetected\tsensitivity\tmedian delay\tp90 delay\tlate\t")
	least := map[string]string{}
	var realistic []string
	for _, s := range strengths {
		least[s.Name] = fmt.Sprintf("≥ %.0f/week, ×%.0f", 7*s.PerDay, s.Ratio)
		if s.Realistic {
			realistic = append(realistic, s.Name)
		}
	}
	for _, r := range f.Strengths {
		row(tw, r, least[r.Name])
	}
	row(tw, f.Realistic, strings.Join(realistic, "+"))
	tw.Flush()
}

// alarms prints the false alarms of both kinds of city.
func alarms(w io.Writer, p eval.Params, f eval.Figures) {
	gap := p.Scan.MaxWindowDays
	if gap == 0 {
		gap = 7 // scan's default
	}
	fmt.Fprintf(w, "alarms are counted as tickets: alarms sharing a grid within %d days count once\n", gap)
	fmt.Fprintf(w, "outbreak cities  %d true, %d false: %.1f%% of alarms false; %.2f false a month per city; %.1f%% of %d city-days with a false alarm\n",
		f.TrueAlarms, f.FalseAlarms, 100*f.FalseShare(), f.FalsePerMonth(), 100*f.FalseDayShare(), f.OutbreakDays)
	fmt.Fprintf(w, "null cities      %d alarms: %.2f a month per city; %.1f%% of %d city-days with an alarm\n",
		f.NullAlarms, f.NullPerMonth(), 100*f.NullDayShare(), f.NullDays)
	fmt.Fprintf(w, "decoy grids      %d of %d false alarms hold one (%.1f%%), %d centred on one (%.1f%%); decoys are %.1f%% of grids\n",
		f.DecoyAlarms, f.FalseAlarms+f.NullAlarms, 100*f.DecoyAlarmShare(), f.DecoyCentred, 100*f.DecoyCentredShare(), 100*f.DecoyGridShare())
}

func row(w io.Writer, r eval.Row, extra string) {
	fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t\n",
		r.Name, extra, r.Planted, r.Detected, 100*r.Sensitivity(), r.MedianDelay(), r.P90Delay(), r.Late)
}

func gate(w io.Writer, name string, v float64, op string, limit float64) {
	ok := v >= limit
	if op == "≤" {
		ok = v <= limit
	}
	verdict := "ok"
	if !ok {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%-42s %5.1f%% %s %.0f%%  %s\n", name, 100*v, op, 100*limit, verdict)
}
