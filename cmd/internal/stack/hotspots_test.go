package stack_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestRecurringProblemRaisesOneProactiveTicketAndARebuildChangesNothing
// plants a recurring problem among unrelated noise: exactly one hot spot is
// found, intake raises exactly one proactive ticket for it, linked to the
// tickets that triggered it, and the loop routes that ticket like any
// other. Then the read models are rebuilt from the stream and found equal.
func TestRecurringProblemRaisesOneProactiveTicketAndARebuildChangesNothing(t *testing.T) {
	r := stacktest.Start(t)
	s := scenario{t: t, r: r, ctx: context.Background()}

	// Noise: never three of a matter in one grid, nor five in one community.
	noise := []struct{ category, grid string }{
		{"road_damage", "xc-hd-dj-g01"}, {"road_damage", "xc-hd-dj-g02"}, {"street_light_out", "xc-hd-dj-g01"},
		{"garbage_overflow", "xc-hd-wy-g01"}, {"garbage_overflow", "xc-hd-wy-g01"}, {"water_leak", "xc-xh-jy-g01"},
		{"drain_blocked", "xc-hd-wy-g02"}, {"drain_blocked", "xc-hd-dj-g02"},
	}
	var all []string
	for i, n := range noise {
		all = append(all, s.report(fmt.Sprint("noise-", i), n.category, n.grid))
	}
	// The planted problem: the same drain, blocked three times.
	var planted []string
	for i := range 3 {
		id := s.report(fmt.Sprint("drain-", i), "drain_blocked", "xc-hd-dj-g01")
		planted, all = append(planted, id), append(all, id)
	}
	for _, id := range all {
		eventually.True(t, id+" routed", func() bool { return s.state(id).GetStatus() >= whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED })
	}

	var spot *whistlev1.HotSpot
	eventually.True(t, "a proactive ticket for the hot spot", func() bool {
		resp, err := s.monitor().Monitoring.ListHotSpots(s.ctx, &whistlev1.ListHotSpotsRequest{})
		if err != nil || len(resp.GetHotSpots()) == 0 {
			return false
		}
		spot = resp.GetHotSpots()[0]
		return spot.GetProactiveTicketId() != ""
	})
	if spot.GetRule() != "repeat_grid" || spot.GetOrgUnitId() != "xc-hd-dj-g01" || spot.GetCategory() != "drain_blocked" ||
		!slices.Equal(spot.GetTicketIds(), planted) {
		t.Fatalf("hot spot %v, want repeat_grid of drain_blocked in xc-hd-dj-g01 from %v", spot, planted)
	}
	for _, id := range planted {
		if !strings.Contains(spot.GetExplanation(), id) {
			t.Errorf("explanation %q does not name ticket %s", spot.GetExplanation(), id)
		}
	}
	proactive, err := s.monitor().Intake.GetTicket(s.ctx, &whistlev1.GetTicketRequest{Ticket: spot.GetProactiveTicketId()})
	s.do("get the proactive ticket", err)
	if tk := proactive.GetTicket(); tk.GetSource() != whistlev1.Source_SOURCE_PROACTIVE || tk.GetCategory() != "drain_blocked" ||
		tk.GetLocation().GetGridId() != "xc-hd-dj-g01" || !slices.Equal(tk.GetRelatedTicketIds(), planted) {
		t.Fatalf("proactive ticket %v", tk)
	}
	// The loop closes on itself: the proactive ticket is dispatched like any other.
	eventually.True(t, "the proactive ticket routed", func() bool {
		return s.state(spot.GetProactiveTicketId()).GetStatus() >= whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED
	})
	// A fourth report within the window adds no second hot spot.
	fourth := s.report("drain-3", "drain_blocked", "xc-hd-dj-g01")
	eventually.True(t, "the fourth report routed", func() bool { return s.state(fourth).GetStatus() >= whistlev1.TicketStatus_TICKET_STATUS_DISPATCHED })
	if spots := s.hotSpots(); len(spots) != 1 {
		t.Fatalf("%d hot spots, want exactly one: %v", len(spots), spots)
	}
	proactives, err := s.monitor().Intake.ListTickets(s.ctx, &whistlev1.ListTicketsRequest{Source: whistlev1.Source_SOURCE_PROACTIVE})
	s.do("list proactive tickets", err)
	if len(proactives.GetTickets()) != 1 {
		t.Fatalf("%d proactive tickets, want exactly one", len(proactives.GetTickets()))
	}

	before := s.readModels(append(all, fourth, spot.GetProactiveTicketId()))
	rebuilt, err := s.as(auth.RoleAdmin, r.City).Monitoring.RebuildProjections(s.ctx, &whistlev1.RebuildProjectionsRequest{
		Actor: &whistlev1.Actor{Id: "ops", OrgUnitId: "hh"}})
	s.do("rebuild", err)
	if rebuilt.GetEventsReplayed() < int64(len(all)*2) || rebuilt.GetEventsSkipped() != 0 {
		t.Fatalf("rebuild replayed %d events, skipped %d", rebuilt.GetEventsReplayed(), rebuilt.GetEventsSkipped())
	}
	if after := s.readModels(append(all, fourth, spot.GetProactiveTicketId())); after != before {
		t.Fatalf("the rebuild differs from the live projection:\nlive    %s\nrebuilt %s", before, after)
	}
}

func (s scenario) hotSpots() []*whistlev1.HotSpot {
	s.t.Helper()
	resp, err := s.monitor().Monitoring.ListHotSpots(s.ctx, &whistlev1.ListHotSpotsRequest{})
	s.do("list hot spots", err)
	return resp.GetHotSpots()
}

// readModels prints what monitoring shows: timelines, counts, scorecards,
// rankings, the overdue list and hot spots.
func (s scenario) readModels(tickets []string) string {
	s.t.Helper()
	var b strings.Builder
	show := func(m proto.Message, err error) {
		s.do("read", err)
		b.WriteString(fmt.Sprint(m))
		b.WriteString("\n")
	}
	for _, id := range tickets {
		show(s.monitor().Monitoring.GetTimeline(s.ctx, &whistlev1.GetTimelineRequest{TicketId: id}))
	}
	show(s.monitor().Monitoring.GetCounts(s.ctx, &whistlev1.GetCountsRequest{IncludeSynthetic: true}))
	month := &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: "2000-01-01", ToDate: "2100-01-01"}
	for _, unit := range []string{"hh", "xc", "xc-hd", "xc-hd-dj", "xc-hd-wy", "xc-xh", "xc-urban", "xc-water"} {
		show(s.monitor().Monitoring.GetScorecard(s.ctx, &whistlev1.GetScorecardRequest{OrgUnitId: unit, Period: month}))
	}
	show(s.monitor().Monitoring.GetRankings(s.ctx, &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_COMMUNITY,
		Figure: "response_rate", Period: month}))
	show(s.monitor().Monitoring.ListOverdue(s.ctx, &whistlev1.ListOverdueRequest{}))
	show(s.monitor().Monitoring.ListHotSpots(s.ctx, &whistlev1.ListHotSpotsRequest{}))
	return b.String()
}
