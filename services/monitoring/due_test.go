package monitoring_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/services/monitoring"
)

// TestFreshWorkIsNotCountedAsFailed: a burst of tickets just dispatched,
// each inside its accept window, gives a response rate over 0 due tickets
// (no failures) and no closing or rework figure either; once one's accept
// deadline passes unaccepted (dispatch escalates it) it counts against the
// department and its street, and the rankings follow. A late acceptance
// stays a failure; an on-time one of the others counts for.
func TestFreshWorkIsNotCountedAsFailed(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	var burst []*story
	for i := range 4 {
		grid := []string{"xc-xh-jy-g01", "xc-hd-dj-g01"}[i%2]
		burst = append(burst, report(grid, "noise", local(2, 10, i)).dispatch("xc-urban", local(2, 10, i+1)))
	}
	project(t, p, burst...)
	figs := func(unit string) string {
		t.Helper()
		resp, err := client.GetScorecard(context.Background(), &whistlev1.GetScorecardRequest{OrgUnitId: unit, Period: week45})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range resp.GetFigures() {
			switch f.GetName() {
			case "response_rate", "closing_rate", "rework_rate", "dispatched":
				out = append(out, fmt.Sprintf("%s=%d/%d", f.GetName(), f.GetNumerator(), f.GetDenominator()))
			}
		}
		return strings.Join(out, " ")
	}
	for unit, want := range map[string]string{
		"xc-urban": "response_rate=0/0 closing_rate=0/0 rework_rate=0/0 dispatched=4/1",
		"xc-xh":    "response_rate=0/0 closing_rate=0/0 rework_rate=0/0 dispatched=2/1",
	} {
		if got := figs(unit); got != want {
			t.Fatalf("fresh work, %s: %s; want %s", unit, got, want)
		}
	}
	seen := make([]int, len(burst))
	for i, s := range burst {
		seen[i] = len(s.events)
	}
	// 10:00 in xc-xh: its accept deadline (11:01) passes unaccepted; dispatch escalates.
	burst[0].escalate(1, "accept", local(2, 11, 1))
	// 10:01 in xc-hd, accepted on time; 10:02 in xc-xh, accepted after its deadline.
	burst[1].accept("xc-urban", local(2, 10, 30))
	burst[2].escalate(1, "accept", local(2, 11, 3)).accept("xc-urban", local(2, 11, 30))
	for i, s := range burst {
		project(t, p, &story{id: s.id, events: s.events[seen[i]:]})
	}
	for unit, want := range map[string]string{
		"xc-urban": "response_rate=1/3 closing_rate=0/0 rework_rate=0/0 dispatched=4/1",
		"xc-xh":    "response_rate=0/2 closing_rate=0/0 rework_rate=0/0 dispatched=2/1",
		"xc-hd":    "response_rate=1/1 closing_rate=0/0 rework_rate=0/0 dispatched=2/1",
	} {
		if got := figs(unit); got != want {
			t.Errorf("after the deadlines, %s: %s; want %s", unit, got, want)
		}
	}
	resp, err := client.GetRankings(context.Background(), &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_STREET,
		Figure: "response_rate", Period: week45, Within: "xc"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range resp.GetEntries() {
		got = append(got, fmt.Sprintf("%d:%s=%d/%d", e.GetRank(), e.GetOrgUnitId(), e.GetFigure().GetNumerator(), e.GetFigure().GetDenominator()))
	}
	if want := "1:xc-hd=1/1 2:xc-xh=0/2"; strings.Join(got, " ") != want {
		t.Errorf("streets by response rate: %s; want %s", strings.Join(got, " "), want)
	}
}
