package monitoring_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/monitoring"
)

// closedStory is a ticket of xc-urban reported on the 2nd, closed satisfied
// on the 3rd, drawn for a call-back or not.
func closedStory(drawn bool) *story {
	s := routed("xc-hd-dj-g01", "road_damage", local(2, 9, 0)).accept("xc-urban", local(2, 9, 30)).
		resolve("xc-urban", local(2, 15, 0)).evaluate("xc-urban", whistlev1.Verdict_VERDICT_SATISFIED, false, local(3, 9, 0))
	return s.add(local(3, 9, 0), &whistlev1.TicketClosed{FinalVerdict: whistlev1.Verdict_VERDICT_SATISFIED, CallBack: drawn})
}

func (s *story) repeatedBy(n int) *story {
	return s.add(local(10, 9, 0), &whistlev1.TicketRepeated{ByTicketId: fmt.Sprint("repeat-", n), ByTicketNumber: fmt.Sprint("HH-R", n)})
}

// TestRepeatsAndCallBacksCount checks the figures that resist gaming on a
// dataset counted by hand: five closed tickets of xc-urban, all evaluated
// satisfied (satisfaction 5/5). D and E were reported again at their place
// (D twice: counted once), so 3 of 5 stayed resolved. A, B, C and E were
// drawn for a call-back: A's reporter was satisfied on the phone, B's not,
// C's could not be reached, E's is still to call: audited satisfaction 1/2.
// The gap (1 − 1/2 = 0.5) is flagged over 2 reached call-backs, and not
// over 3 (too few to judge).
func TestRepeatsAndCallBacksCount(t *testing.T) {
	t.Parallel()
	a, b, c, d, e := closedStory(true), closedStory(true), closedStory(true), closedStory(false).repeatedBy(1).repeatedBy(2),
		closedStory(true).repeatedBy(3)
	for _, tc := range []struct {
		minCallBacks int64
		gap          bool
	}{{2, true}, {3, false}} {
		t.Run(fmt.Sprint("gap over ", tc.minCallBacks), func(t *testing.T) {
			t.Parallel()
			deps := platformtest.Deps(t, monitoring.Name, monitoring.Migrations(), nil, nil)
			svc, err := monitoring.New(deps, monitoring.Config{SatisfactionGap: monitoring.GapRule{MinCallBacks: tc.minCallBacks}})
			if err != nil {
				t.Fatal(err)
			}
			_, p, client := monitorWith(t, deps, svc)
			project(t, p, a, b, c, d, e)
			ctx := context.Background()
			list, err := client.ListCallBacks(ctx, &whistlev1.ListCallBacksRequest{OrgUnitId: "xc-urban", PendingOnly: true})
			if err != nil || len(list.GetCallBacks()) != 4 {
				t.Fatalf("pending call-backs %v, %v; want A, B, C and E", list.GetCallBacks(), err)
			}
			for _, cb := range []struct {
				s       *story
				reached bool
				v       whistlev1.Verdict
			}{{a, true, whistlev1.Verdict_VERDICT_SATISFIED}, {b, true, whistlev1.Verdict_VERDICT_UNSATISFIED}, {c, false, 0}} {
				if _, err := client.RecordCallBack(ctx, &whistlev1.RecordCallBackRequest{TicketId: cb.s.id, Reached: cb.reached, Verdict: cb.v,
					Note: "called"}); err != nil {
					t.Fatalf("record the call-back of %s: %v", cb.s.id, err)
				}
			}
			// Once per ticket; never for a ticket not drawn.
			_, err = client.RecordCallBack(ctx, &whistlev1.RecordCallBackRequest{TicketId: a.id, Reached: true, Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED})
			if status.Code(err) != codes.AlreadyExists {
				t.Errorf("a second call-back of A: %v, want AlreadyExists", err)
			}
			_, err = client.RecordCallBack(ctx, &whistlev1.RecordCallBackRequest{TicketId: d.id, Reached: true, Verdict: whistlev1.Verdict_VERDICT_SATISFIED})
			if status.Code(err) != codes.FailedPrecondition {
				t.Errorf("a call-back of D, not drawn: %v, want FailedPrecondition", err)
			}
			// The called_back events the calls appended are projected like any other.
			var called []*story
			for _, ev := range platformtest.Outbox(t, deps.DB) {
				if ev.GetCalledBack() != nil {
					called = append(called, &story{id: ev.GetTicketId(), events: []*whistlev1.Event{ev}})
				}
			}
			if len(called) != 3 {
				t.Fatalf("%d called_back events, want 3", len(called))
			}
			project(t, p, called...)
			pending, err := client.ListCallBacks(ctx, &whistlev1.ListCallBacksRequest{OrgUnitId: "xc", PendingOnly: true})
			if err != nil || len(pending.GetCallBacks()) != 1 || pending.GetCallBacks()[0].GetTicketId() != e.id {
				t.Fatalf("pending call-backs %v, %v; want E's alone", pending.GetCallBacks(), err)
			}
			ranked, err := client.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT,
				Figure: "stayed_resolved_rate", Period: month})
			if err != nil || len(ranked.GetEntries()) != 1 || ranked.GetEntries()[0].GetOrgUnitId() != "xc-urban" ||
				ranked.GetEntries()[0].GetFigure().GetNumerator() != 3 || ranked.GetEntries()[0].GetFigure().GetDenominator() != 5 {
				t.Errorf("departments ranked by stayed_resolved_rate: %v, %v; want xc-urban at 3/5", ranked.GetEntries(), err)
			}
			for _, unit := range []string{"xc-urban", "xc"} {
				want := "closing_rate=5/5 stayed_resolved_rate=3/5 satisfaction_rate=5/5 audited_satisfaction_rate=1/2 repeated=2/1"
				if got := pick(card(t, client, unit, month), "closing_rate", "stayed_resolved_rate", "satisfaction_rate",
					"audited_satisfaction_rate", "repeated"); got != want {
					t.Errorf("%s: %s, want %s", unit, got, want)
				}
				sc, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: unit, Period: month})
				if err != nil || sc.GetSatisfactionGap() != tc.gap {
					t.Errorf("%s: satisfaction gap %v (%v), want %v", unit, sc.GetSatisfactionGap(), err, tc.gap)
				}
			}
		})
	}
}

var month = &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_MONTH, Date: "2026-11-01"}

// pick keeps the named figures of a card, in the order named.
func pick(card string, names ...string) string {
	var out []string
	for _, n := range names {
		for _, f := range strings.Fields(card) {
			if strings.HasPrefix(f, n+"=") {
				out = append(out, f)
			}
		}
	}
	return strings.Join(out, " ")
}
