package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	_ "time/tzdata" // the city's zone without relying on the machine's

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// figureNames are the figures a scorecard shows and a ranking ranks by, in
// scorecard order (services/monitoring, docs/metrics.md).
var figureNames = []string{"response_rate", "resolution_rate", "on_time_resolution_rate", "closing_rate",
	"satisfaction_rate", "rework_rate", "default_close_rate", "reported", "dispatched", "cancelled", "withdrawn", "merged"}

// countFigures are plain counts, not rates: the server sends them over a
// denominator of 1.
var countFigures = map[string]bool{"reported": true, "dispatched": true, "cancelled": true, "withdrawn": true, "merged": true}

// periodFlags choose the days counted: one of --day, --week, --month, or
// --from with --to; the current week (in the city's time zone) by default.
type periodFlags struct {
	day, week, month, from, to string
}

func (p *periodFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.day, "day", "", "count one day (YYYY-MM-DD)")
	f.StringVar(&p.week, "week", "", "count the week, Monday to Sunday, holding this day (YYYY-MM-DD; default: this week)")
	f.StringVar(&p.month, "month", "", "count a month (YYYY-MM)")
	f.StringVar(&p.from, "from", "", "count from this day (YYYY-MM-DD), with --to")
	f.StringVar(&p.to, "to", "", "count up to this day, included (YYYY-MM-DD), with --from")
}

// period checks the flags and returns the period they name. today is asked
// only when no flag names one.
func (p *periodFlags) period(cmd *cobra.Command, today func() (time.Time, error)) (*whistlev1.Period, error) {
	flags := cmd.Flags()
	var given []string
	for _, name := range []string{"day", "week", "month"} {
		if flags.Changed(name) {
			given = append(given, "--"+name)
		}
	}
	custom := flags.Changed("from") || flags.Changed("to")
	if custom {
		given = append(given, "--from/--to")
	}
	if len(given) > 1 {
		return nil, fmt.Errorf("%s: give one period only: --day, --week, --month, or --from with --to", strings.Join(given, " and "))
	}
	switch {
	case flags.Changed("day"):
		d, err := parseDay("day", p.day)
		return &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_DAY, Date: d}, err
	case flags.Changed("week"):
		d, err := parseDay("week", p.week)
		return &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_WEEK, Date: d}, err
	case flags.Changed("month"):
		m, err := parseMonth("month", p.month)
		return &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_MONTH, Date: m + "-01"}, err
	case custom:
		if !flags.Changed("from") || !flags.Changed("to") {
			return nil, fmt.Errorf("a custom period names both days: add the missing one, e.g. --from 2026-11-01 --to 2026-11-15")
		}
		from, err := parseDay("from", p.from)
		if err != nil {
			return nil, err
		}
		to, err := parseDay("to", p.to)
		if err != nil {
			return nil, err
		}
		if to < from {
			return nil, fmt.Errorf("--from %s is after --to %s: swap them", from, to)
		}
		return &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: from, ToDate: to}, nil
	}
	now, err := today()
	if err != nil {
		return nil, err
	}
	return &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_WEEK, Date: now.Format(time.DateOnly)}, nil
}

func parseDay(flag, s string) (string, error) {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", fmt.Errorf("--%s %q: write the date as YYYY-MM-DD, e.g. 2026-11-26", flag, s)
	}
	return s, nil
}

func parseMonth(flag, s string) (string, error) {
	if _, err := time.Parse("2006-01", s); err != nil {
		return "", fmt.Errorf("--%s %q: write the month as YYYY-MM, e.g. 2026-11", flag, s)
	}
	return s, nil
}

// periodDays returns a period's first and last day, as the server counts them.
func periodDays(p *whistlev1.Period) (string, string) {
	if p.GetKind() == whistlev1.PeriodKind_PERIOD_KIND_CUSTOM {
		return p.GetFromDate(), p.GetToDate()
	}
	d, _ := time.Parse(time.DateOnly, p.GetDate())
	from, to := d, d
	switch p.GetKind() {
	case whistlev1.PeriodKind_PERIOD_KIND_WEEK:
		from = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		to = from.AddDate(0, 0, 6)
	case whistlev1.PeriodKind_PERIOD_KIND_MONTH:
		from = time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
		to = from.AddDate(0, 1, -1)
	}
	return from.Format(time.DateOnly), to.Format(time.DateOnly)
}

// cityNow is the time now in the city's time zone (the active catalog's
// calendar), the zone the figures count days in; local time when the catalog
// does not say.
func cityNow(ctx context.Context, c loop.Clients) (time.Time, error) {
	resp, err := c.Dispatch.GetCatalog(ctx, &whistlev1.GetCatalogRequest{})
	if err != nil {
		switch status.Code(err) {
		case codes.Unavailable, codes.Unauthenticated, codes.DeadlineExceeded, codes.Canceled:
			return time.Time{}, fmt.Errorf("read the city's time zone from the catalog: %w", err)
		}
		return time.Now(), nil
	}
	if tz := resp.GetCalendar().GetTimeZone(); tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return time.Now().In(loc), nil
		}
	}
	return time.Now(), nil
}

// exactlyOne accepts one argument and says what to give otherwise.
func exactlyOne(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch len(args) {
		case 1:
			return nil
		case 0:
			return fmt.Errorf("%s", what)
		}
		return fmt.Errorf("one argument only, got %d (%s): %s", len(args), strings.Join(args, " "), what)
	}
}

// inRange checks a numeric flag.
func inRange(flag string, v, lo, hi int32) error {
	if v < lo || v > hi {
		return fmt.Errorf("--%s %d: choose %d to %d", flag, v, lo, hi)
	}
	return nil
}

// percent formats a share (0 to 1) with one decimal.
func percent(share float64) string {
	return strconv.FormatFloat(100*share, 'f', 1, 64) + "%"
}

// figureCells are a figure's RATE and NUMERATOR/DENOMINATOR cells: "—" for a
// rate with nothing to count, and a plain count on its own.
func figureCells(f *whistlev1.Figure) (string, string) {
	if countFigures[f.GetName()] {
		return "", strconv.FormatInt(f.GetNumerator(), 10)
	}
	parts := fmt.Sprintf("%d/%d", f.GetNumerator(), f.GetDenominator())
	if f.GetDenominator() == 0 {
		return "—", parts
	}
	return percent(f.GetRate()), parts
}

// shortDuration rounds a duration for people: 42s, 7m30s, 1h23m, 3d4h.
func shortDuration(d time.Duration) string {
	if d < 0 {
		return "-" + shortDuration(-d)
	}
	const day = 24 * time.Hour
	switch {
	case d < 10*time.Minute:
		r := d.Round(time.Second)
		m, s := r/time.Minute, r%time.Minute/time.Second
		switch {
		case m == 0:
			return fmt.Sprintf("%ds", s)
		case s == 0:
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < day:
		r := d.Round(time.Minute)
		h, m := r/time.Hour, r%time.Hour/time.Minute
		switch {
		case h == 0:
			return fmt.Sprintf("%dm", m)
		case m == 0:
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	r := d.Round(time.Hour)
	days, h := r/day, r%day/time.Hour
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

func scorecardCommand(g *globals) *cobra.Command {
	var pf periodFlags
	cmd := &cobra.Command{
		Use:   "scorecard <org-unit>",
		Short: "Show an org unit's figures for a period: rates with their counts, stage times, open and overdue",
		Long: `scorecard shows the figures a department, district, street, community or the
city is assessed by (docs/metrics.md): each rate with its numerator and
denominator ("—" when there is nothing to count), how long tickets spent in
each stage, and how many of its tickets are open and overdue now. Tickets
count on the day they were reported, in the city's time zone; test traffic
is left out. The period is this week unless --day, --week, --month or
--from/--to says otherwise.`,
		Example: `  whistlectl scorecard xc-hd-dj
  whistlectl scorecard xc-urban --month 2026-11
  whistlectl scorecard xc --from 2026-11-01 --to 2026-11-15 -o json`,
		Args: exactlyOne("name the org unit to score (a department, district, street, community or the city), e.g. whistlectl scorecard xc-hd-dj"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			period, err := pf.period(cmd, func() (time.Time, error) { return cityNow(ctx, c) })
			if err != nil {
				return err
			}
			resp, err := c.Monitoring.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: args[0], Period: period})
			if err != nil {
				return fmt.Errorf("scorecard %s: %w", args[0], err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s, %s to %s\n\n", resp.GetOrgUnitId(), resp.GetFromDate(), resp.GetToDate())
			var rows [][]string
			counted := false
			for _, f := range resp.GetFigures() {
				rate, parts := figureCells(f)
				rows = append(rows, []string{f.GetName(), rate, parts})
				counted = counted || f.GetNumerator() > 0
			}
			if err := table(out, "FIGURE\tRATE\tNUMERATOR/DENOMINATOR", rows); err != nil {
				return err
			}
			if len(resp.GetStageTimes()) > 0 {
				rows = rows[:0]
				for _, s := range resp.GetStageTimes() {
					rows = append(rows, []string{s.GetStage(), strconv.FormatInt(s.GetCount(), 10),
						shortDuration(s.GetAverage().AsDuration()), shortDuration(s.GetP90().AsDuration())})
				}
				fmt.Fprintln(out)
				if err := table(out, "STAGE\tCOUNT\tAVERAGE\tP90", rows); err != nil {
					return err
				}
			}
			if _, err := fmt.Fprintf(out, "\nopen %d, overdue %d (now)\n", resp.GetOpen(), resp.GetOverdue()); err != nil {
				return err
			}
			if !counted && resp.GetOpen() == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "nothing counted for %s in this period: check the org unit id (whistlectl catalog show lists them) or choose another period\n",
					resp.GetOrgUnitId())
			}
			return nil
		},
	}
	pf.add(cmd)
	return cmd
}

// rankingLevel is a level a ranking ranks, with its plural.
type rankingLevel struct {
	name, plural string
	level        whistlev1.RankingLevel
}

// rankingLevels are the levels a ranking ranks.
var rankingLevels = []rankingLevel{
	{"district", "districts", whistlev1.RankingLevel_RANKING_LEVEL_DISTRICT},
	{"street", "streets", whistlev1.RankingLevel_RANKING_LEVEL_STREET},
	{"community", "communities", whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY},
	{"department", "departments", whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT},
}

func rankingsCommand(g *globals) *cobra.Command {
	var pf periodFlags
	var by, within string
	var names []string
	for _, l := range rankingLevels {
		names = append(names, l.name)
	}
	cmd := &cobra.Command{
		Use:   "rankings <district|street|community|department>",
		Short: "Rank the districts, streets, communities or departments by a figure, best first",
		Long: `rankings ranks every unit of a level that has had a ticket by one figure over a
period, best first: highest rate first, lowest for rework_rate and
default_close_rate. Ties share a rank; units with nothing to count ("—") come
last. The period is this week unless --day, --week, --month or --from/--to
says otherwise.`,
		Example: `  whistlectl rankings community
  whistlectl rankings street --within xc --by closing_rate --month 2026-11
  whistlectl rankings department --by response_rate --week 2026-11-26`,
		Args:      exactlyOne("say what to rank: " + strings.Join(names, ", ") + ", e.g. whistlectl rankings community"),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			i := slices.IndexFunc(rankingLevels, func(l rankingLevel) bool { return l.name == args[0] })
			if i < 0 {
				return fmt.Errorf("cannot rank %q: say %s", args[0], strings.Join(names, ", "))
			}
			level := rankingLevels[i]
			if !slices.Contains(figureNames, by) {
				return fmt.Errorf("--by %q: rank by one of %s", by, strings.Join(figureNames, ", "))
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			period, err := pf.period(cmd, func() (time.Time, error) { return cityNow(ctx, c) })
			if err != nil {
				return err
			}
			resp, err := c.Monitoring.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: level.level, Figure: by,
				Period: period, Within: within})
			if err != nil {
				return fmt.Errorf("rankings %s: %w", args[0], err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			out := cmd.OutOrStdout()
			from, to := periodDays(period)
			where := ""
			if within != "" {
				where = " within " + within
			}
			fmt.Fprintf(out, "%s%s by %s, %s to %s, best first\n\n", level.plural, where, by, from, to)
			var rows [][]string
			for _, e := range resp.GetEntries() {
				rate, parts := figureCells(e.GetFigure())
				rows = append(rows, []string{strconv.Itoa(int(e.GetRank())), e.GetOrgUnitId(), rate, parts})
			}
			if err := table(out, "RANK\tORG UNIT\tRATE\tN/D", rows); err != nil {
				return err
			}
			if len(rows) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no %s to rank%s: they appear once they have had a ticket (check --within)\n", level.plural, where)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", "satisfaction_rate", "figure to rank by: "+strings.Join(figureNames, ", "))
	cmd.Flags().StringVar(&within, "within", "", "rank only the units under this org unit, e.g. the streets of district xc")
	pf.add(cmd)
	return cmd
}

func topProblemsCommand(g *globals) *cobra.Command {
	var month string
	var limit int32
	cmd := &cobra.Command{
		Use:   "top-problems <district>",
		Short: "List a district's most reported matters in a month, against the month before (每月一题 candidates)",
		Example: `  whistlectl top-problems xc
  whistlectl top-problems xc --month 2026-10 --limit 10`,
		Args: exactlyOne("name the district, e.g. whistlectl top-problems xc"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("month") {
				if _, err := parseMonth("month", month); err != nil {
					return err
				}
			}
			if err := inRange("limit", limit, 1, 50); err != nil {
				return err
			}
			c, err := g.clients()
			if err != nil {
				return err
			}
			ctx, err := g.actCity(cmd.Context(), auth.RoleMonitor)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("month") {
				now, err := cityNow(ctx, c)
				if err != nil {
					return err
				}
				month = now.Format("2006-01")
			}
			resp, err := c.Monitoring.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: args[0], Month: month, Limit: limit})
			if err != nil {
				return fmt.Errorf("top-problems %s: %w", args[0], err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			m, _ := time.Parse("2006-01", month)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s in %s, most reported first; PREVIOUS counts %s\n\n", args[0], month, m.AddDate(0, -1, 0).Format("2006-01"))
			var rows [][]string
			for _, p := range resp.GetProblems() {
				rows = append(rows, []string{p.GetCategory(), strconv.FormatInt(p.GetCount(), 10), strconv.FormatInt(p.GetPreviousCount(), 10),
					percent(p.GetShare())})
			}
			if err := table(out, "MATTER\tCOUNT\tPREVIOUS\tSHARE", rows); err != nil {
				return err
			}
			if len(rows) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "nothing reported in %s in %s: check the district id (whistlectl catalog show) or the month\n", args[0], month)
			}
			if len(resp.GetClusters()) == 0 {
				return nil
			}
			rows = nil
			for _, h := range resp.GetClusters() {
				sc := h.GetScan()
				rows = append(rows, []string{h.GetCategory(), sc.GetCentreGridId(), strconv.Itoa(len(sc.GetGridIds())),
					fmt.Sprintf("%d/%.1f", sc.GetObserved(), sc.GetExpected()), fmt.Sprintf("%.2f", sc.GetLogLikelihoodRatio()),
					fmt.Sprintf("%.3g", sc.GetPValue())})
			}
			fmt.Fprintf(out, "\nclusters the space-time scan found, strongest first\n\n")
			return table(out, "MATTER\tCENTRE\tGRIDS\tOBSERVED/EXPECTED\tLLR\tP", rows)
		},
	}
	cmd.Flags().StringVar(&month, "month", "", "month as YYYY-MM (default: this month, in the city's time zone)")
	cmd.Flags().Int32Var(&limit, "limit", 5, "how many matters, 1 to 50")
	return cmd
}
