package monitoring_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/monitoring"
)

const (
	satisfied = whistlev1.Verdict_VERDICT_SATISFIED
	basically = whistlev1.Verdict_VERDICT_BASICALLY_SATISFIED
	unhappy   = whistlev1.Verdict_VERDICT_UNSATISFIED
)

// knownDataset is the hand-computed dataset of docs/metrics.md: seven
// tickets reported on Monday 2 November 2026 (city time), one of them test
// traffic. Deadlines: accept within 1 h of dispatch, resolve within 48 h.
func knownDataset() []*story {
	d := func(day, h, m int) time.Time { return local(day, h, m) }
	return []*story{
		// T1 community dj: on time throughout, satisfied.
		report("xc-hd-dj-g01", "road_damage", d(2, 10, 0)).dispatch("xc-urban", d(2, 10, 5)).accept("xc-urban", d(2, 10, 35)).
			resolve("xc-urban", d(3, 10, 0)).evaluate("xc-urban", satisfied, false, d(3, 12, 0)).close(satisfied, false, d(3, 12, 0)),
		// T2 dj: accepted late, then missed the resolve deadline; open, overdue, level 2.
		report("xc-hd-dj-g02", "road_damage", d(2, 10, 0)).dispatch("xc-urban", d(2, 10, 5)).escalate(1, "accept", d(2, 11, 5)).
			accept("xc-urban", d(2, 12, 5)).escalate(2, "resolve", d(4, 10, 5)),
		// T3 community wy: resolved on time, unsatisfied, reworked, basically satisfied.
		report("xc-hd-wy-g01", "water_leak", d(2, 10, 0)).dispatch("xc-water", d(2, 10, 5)).accept("xc-water", d(2, 10, 20)).
			resolve("xc-water", d(2, 16, 5)).evaluate("xc-water", unhappy, false, d(2, 17, 0)).reopen("xc-water", d(2, 17, 0)).
			resolve("xc-water", d(3, 9, 0)).evaluate("xc-water", basically, false, d(3, 10, 0)).close(basically, false, d(3, 10, 0)),
		// T4 dj: resolved late; nobody judged, closed by the default verdict.
		report("xc-hd-dj-g01", "water_leak", d(2, 10, 0)).dispatch("xc-water", d(2, 10, 5)).accept("xc-water", d(2, 10, 50)).
			resolve("xc-water", d(5, 10, 0)).evaluate("xc-water", satisfied, true, d(12, 10, 0)).close(satisfied, true, d(12, 10, 0)),
		// T5 street xh: dispatched, not accepted yet.
		report("xc-xh-jy-g01", "noise", d(2, 10, 0)).dispatch("xc-urban", d(2, 10, 5)),
		// T6 dj: test traffic, a whole loop; counts nowhere.
		newStory("xc-hd-dj-g01", "noise", d(2, 10, 0), true, whistlev1.Source_SOURCE_RESIDENT).dispatch("xc-urban", d(2, 10, 5)).
			accept("xc-urban", d(2, 10, 6)).resolve("xc-urban", d(2, 10, 7)).close(satisfied, true, d(2, 11, 0)),
		// T7 dj: reported at 01:00 city time (the day before in UTC), waits in triage.
		report("xc-hd-dj-g01", "other_public_affairs", d(2, 1, 0)).triage(d(2, 1, 1)),
	}
}

// monitor returns a fresh monitoring service, its consumer's inbox and its API.
func monitor(t *testing.T, cfg monitoring.Config) (*monitoring.Service, *inbox.Processor, whistlev1.MonitoringServiceClient) {
	t.Helper()
	deps := platformtest.Deps(t, monitoring.Name, monitoring.Migrations(), nil, nil)
	svc, err := monitoring.New(deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return monitorWith(t, deps, svc)
}

func monitorWith(t *testing.T, deps platform.Deps, svc *monitoring.Service) (*monitoring.Service, *inbox.Processor, whistlev1.MonitoringServiceClient) {
	t.Helper()
	p := &inbox.Processor{DB: deps.DB, Consumer: monitoring.Name, Apply: monitoring.Apply(svc)}
	conn := grpctest.Serve(t, grpcserver.Options{Log: deps.Log}, svc.Register)
	return svc, p, whistlev1.NewMonitoringServiceClient(conn)
}

// card prints a scorecard's figures as "name=n/d", its open and overdue counts.
func card(t *testing.T, c whistlev1.MonitoringServiceClient, unit string, p *whistlev1.Period) string {
	t.Helper()
	resp, err := c.GetScorecard(context.Background(), &whistlev1.GetScorecardRequest{OrgUnitId: unit, Period: p})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range resp.GetFigures() {
		fmt.Fprintf(&b, "%s=%d/%d ", f.GetName(), f.GetNumerator(), f.GetDenominator())
	}
	fmt.Fprintf(&b, "open=%d overdue=%d", resp.GetOpen(), resp.GetOverdue())
	return b.String()
}

var week45 = &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_WEEK, Date: "2026-11-05"}

func TestScorecardsMatchTheHandComputedDataset(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	project(t, p, knownDataset()...)

	for _, tc := range []struct{ unit, want string }{
		{"xc-hd-dj", "response_rate=2/3 resolution_rate=2/3 on_time_resolution_rate=1/3 closing_rate=2/3 stayed_resolved_rate=2/2 " +
			"satisfaction_rate=1/1 audited_satisfaction_rate=0/0 rework_rate=0/2 default_close_rate=1/2 reported=4/1 dispatched=3/1 cancelled=0/1 withdrawn=0/1 merged=0/1 repeated=0/1 open=2 overdue=1"},
		{"xc-hd", "response_rate=3/4 resolution_rate=3/4 on_time_resolution_rate=2/4 closing_rate=3/4 stayed_resolved_rate=3/3 " +
			"satisfaction_rate=2/3 audited_satisfaction_rate=0/0 rework_rate=1/3 default_close_rate=1/3 reported=5/1 dispatched=4/1 cancelled=0/1 withdrawn=0/1 merged=0/1 repeated=0/1 open=2 overdue=1"},
		{"xc-xh", "response_rate=0/0 resolution_rate=0/0 on_time_resolution_rate=0/0 closing_rate=0/0 stayed_resolved_rate=0/0 " +
			"satisfaction_rate=0/0 audited_satisfaction_rate=0/0 rework_rate=0/0 default_close_rate=0/0 reported=1/1 dispatched=1/1 cancelled=0/1 withdrawn=0/1 merged=0/1 repeated=0/1 open=1 overdue=0"},
		{"hh", "response_rate=3/4 resolution_rate=3/4 on_time_resolution_rate=2/4 closing_rate=3/4 stayed_resolved_rate=3/3 " +
			"satisfaction_rate=2/3 audited_satisfaction_rate=0/0 rework_rate=1/3 default_close_rate=1/3 reported=6/1 dispatched=5/1 cancelled=0/1 withdrawn=0/1 merged=0/1 repeated=0/1 open=3 overdue=1"},
		{"xc-urban", "response_rate=1/2 resolution_rate=1/2 on_time_resolution_rate=1/2 closing_rate=1/2 stayed_resolved_rate=1/1 " +
			"satisfaction_rate=1/1 audited_satisfaction_rate=0/0 rework_rate=0/1 default_close_rate=0/1 reported=0/1 dispatched=3/1 cancelled=0/1 withdrawn=0/1 merged=0/1 repeated=0/1 open=2 overdue=1"},
		{"xc-water", "response_rate=2/2 resolution_rate=2/2 on_time_resolution_rate=1/2 closing_rate=2/2 stayed_resolved_rate=2/2 " +
			"satisfaction_rate=1/2 audited_satisfaction_rate=0/0 rework_rate=1/2 default_close_rate=1/2 reported=0/1 dispatched=2/1 cancelled=0/1 withdrawn=0/1 merged=0/1 repeated=0/1 open=0 overdue=0"},
	} {
		t.Run(tc.unit, func(t *testing.T) {
			if got := card(t, client, tc.unit, week45); got != tc.want {
				t.Errorf("scorecard of %s:\n got %s\nwant %s", tc.unit, got, tc.want)
			}
		})
	}

	// Tickets count on the day they were reported, in the city's time zone:
	// the next day has no cohort, only the live counts.
	nextDay := &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_DAY, Date: "2026-11-03"}
	if got := card(t, client, "xc-hd-dj", nextDay); !strings.HasPrefix(got, "response_rate=0/0") || !strings.HasSuffix(got, "open=2 overdue=1") {
		t.Errorf("the day after: %s", got)
	}
	utcDayBefore := &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_DAY, Date: "2026-11-01"}
	if got := card(t, client, "xc-hd-dj", utcDayBefore); !strings.Contains(got, "reported=0/1") {
		t.Errorf("T7 was reported on 2 November city time, not 1 November: %s", got)
	}
	month := &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: "2026-11-01", ToDate: "2026-11-30"}
	if a, b := card(t, client, "xc-hd", month), card(t, client, "xc-hd", week45); a != b {
		t.Errorf("the month and the week hold the same tickets:\n%s\n%s", a, b)
	}
}

func TestStageTimesAreAveragedAndBoundedAtP90(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	project(t, p, knownDataset()...)
	resp, err := client.GetScorecard(context.Background(), &whistlev1.GetScorecardRequest{OrgUnitId: "xc-hd", Period: week45})
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]*whistlev1.StageTime{}
	for _, st := range resp.GetStageTimes() {
		stages[st.GetStage()] = st
	}
	// dispatch_to_accept in xc-hd: T1 30 min, T2 2 h, T3 15 min, T4 45 min.
	for _, tc := range []struct {
		stage string
		count int64
		avg   time.Duration
		p90   time.Duration // the true 90th percentile; the figure is at most 19 % above it
	}{
		{"report_to_dispatch", 4, 5 * time.Minute, 5 * time.Minute},
		{"dispatch_to_accept", 4, (30 + 120 + 15 + 45) * time.Minute / 4, 2 * time.Hour},
		// T1 23 h 25 min (accepted 10:35 on the 2nd, resolved 10:00 on the 3rd), T3 5 h 45 min, T4 71 h 10 min.
		{"accept_to_resolve", 3, (1405 + 345 + 4270) * time.Minute / 3, 4270 * time.Minute},
		// T1 2 h, T3 1 h (from the last resolution), T4 168 h.
		{"resolve_to_close", 3, (120 + 60 + 168*60) * time.Minute / 3, 168 * time.Hour},
	} {
		st := stages[tc.stage]
		if st.GetCount() != tc.count || st.GetAverage().AsDuration() != tc.avg {
			t.Errorf("%s: count %d average %s, want %d and %s", tc.stage, st.GetCount(), st.GetAverage().AsDuration(), tc.count, tc.avg)
		}
		if p90 := st.GetP90().AsDuration(); p90 < tc.p90 || float64(p90) > float64(tc.p90)*1.19 {
			t.Errorf("%s: p90 %s, want within 19 %% above %s", tc.stage, p90, tc.p90)
		}
	}
}

func TestRankingsOrderUnitsAndShareTies(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	project(t, p, knownDataset()...)
	rank := func(level whistlev1.RankingLevel, figure, within string) string {
		resp, err := client.GetRankings(context.Background(), &whistlev1.GetRankingsRequest{Level: level, Figure: figure,
			Period: week45, Within: within})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range resp.GetEntries() {
			out = append(out, fmt.Sprintf("%d:%s=%d/%d", e.GetRank(), e.GetOrgUnitId(), e.GetFigure().GetNumerator(), e.GetFigure().GetDenominator()))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		level          whistlev1.RankingLevel
		figure, within string
		want           string
	}{
		{whistlev1.RankingLevel_RANKING_LEVEL_STREET, "response_rate", "xc", "1:xc-hd=3/4 2:xc-xh=0/0"},
		{whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT, "satisfaction_rate", "", "1:xc-urban=1/1 2:xc-water=1/2"},
		{whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT, "resolution_rate", "", "1:xc-water=2/2 2:xc-urban=1/2"},
		{whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY, "closing_rate", "xc-hd", "1:xc-hd-wy=1/1 2:xc-hd-dj=2/3"},
		// A unit with nothing to count (nothing evaluated in xc-xh-jy) comes last.
		{whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY, "satisfaction_rate", "", "1:xc-hd-dj=1/1 2:xc-hd-wy=1/2 3:xc-xh-jy=0/0"},
		{whistlev1.RankingLevel_RANKING_LEVEL_DISTRICT, "rework_rate", "", "1:xc=1/3"},
		{whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY, "response_rate", "xc-hd", "1:xc-hd-wy=1/1 2:xc-hd-dj=2/3"},
		// Less rework is better.
		{whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY, "rework_rate", "xc-hd", "1:xc-hd-dj=0/2 2:xc-hd-wy=1/1"},
		// Ties share a rank, in name order.
		{whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT, "on_time_resolution_rate", "", "1:xc-urban=1/2 1:xc-water=1/2"},
	} {
		if got := rank(tc.level, tc.figure, tc.within); got != tc.want {
			t.Errorf("%s by %s within %q:\n got %s\nwant %s", tc.level, tc.figure, tc.within, got, tc.want)
		}
	}
	_, err := client.GetRankings(context.Background(), &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_STREET,
		Figure: "happiness", Period: week45})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "response_rate") {
		t.Errorf("unknown figure: %v", err)
	}
}
