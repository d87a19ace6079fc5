package monitoring_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/monitoring"
)

// routed reports a matter in a grid at a time and dispatches it at once.
func routed(grid, category string, at time.Time) *story {
	return report(grid, category, at).dispatch("xc-urban", at.Add(time.Minute))
}

func idsOf(stories ...*story) []string {
	var out []string
	for _, s := range stories {
		out = append(out, s.id)
	}
	return out
}

func TestHotSpotRules(t *testing.T) {
	t.Parallel()
	day := func(d int) time.Time { return local(d, 10, 0) }
	a, b, c := routed("xc-hd-dj-g01", "drain_blocked", day(2)), routed("xc-hd-dj-g01", "drain_blocked", day(4)),
		routed("xc-hd-dj-g01", "drain_blocked", day(8))
	c1, c2, c3, c4 := routed("xc-hd-wy-g01", "garbage_overflow", day(2)), routed("xc-hd-wy-g02", "garbage_overflow", day(3)),
		routed("xc-hd-wy-g01", "garbage_overflow", day(4)), routed("xc-hd-wy-g02", "garbage_overflow", day(5))
	var rising []*story
	for i := range 4 {
		rising = append(rising, routed([]string{"hn-bt-lq-g01", "hn-bt-yh-g02", "hn-qs-bh-g01", "hn-qs-fx-g02"}[i], "noise", day(10+i)))
	}
	for _, tc := range []struct {
		name    string
		stories []*story
		// want is each hot spot as "rule place category", with the tickets behind it.
		want    []string
		tickets [][]string
	}{
		{name: "three in one grid within the window", stories: []*story{a, b, c},
			want: []string{"repeat_grid xc-hd-dj-g01 drain_blocked"}, tickets: [][]string{idsOf(a, b, c)}},
		{name: "three in one grid, routed latest first", stories: []*story{c, b, a},
			want: []string{"repeat_grid xc-hd-dj-g01 drain_blocked"}, tickets: [][]string{idsOf(a, b, c)}},
		{name: "four across the grids of one community, routed out of order", stories: []*story{c3, c1, c4, c2},
			want: []string{"repeat_community xc-hd-wy garbage_overflow"}, tickets: [][]string{idsOf(c1, c2, c3, c4)}},
		{name: "the first report left the window", stories: []*story{a, b, routed("xc-hd-dj-g01", "drain_blocked", day(9).Add(time.Hour))}},
		{name: "another matter or another grid is not the same problem", stories: []*story{
			a, b, routed("xc-hd-dj-g02", "drain_blocked", day(5)), routed("xc-hd-dj-g01", "road_damage", day(5))}},
		{name: "test traffic and proactive tickets are not reports", stories: []*story{
			a, b, newStory("xc-hd-dj-g01", "drain_blocked", day(5), true, whistlev1.Source_SOURCE_RESIDENT).dispatch("xc-urban", day(5)),
			newStory("xc-hd-dj-g01", "drain_blocked", day(5), false, whistlev1.Source_SOURCE_PROACTIVE).dispatch("xc-urban", day(5))}},
		{name: "four across the grids of one community", stories: []*story{c1, c2, c3, c4},
			want: []string{"repeat_community xc-hd-wy garbage_overflow"}, tickets: [][]string{idsOf(c1, c2, c3, c4)}},
		{name: "rising in a district against the week before", stories: rising,
			want: []string{"rising hn noise"}, tickets: [][]string{idsOf(rising...)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			deps := platformtest.Deps(t, monitoring.Name, monitoring.Migrations(), nil, nil)
			svc, err := monitoring.New(deps, monitoring.Config{HotSpots: monitoring.HotSpotConfig{CommunityRepeats: 4, RisingMin: 4}})
			if err != nil {
				t.Fatal(err)
			}
			_, p, client := monitorWith(t, deps, svc)
			project(t, p, tc.stories...)
			resp, err := client.ListHotSpots(context.Background(), &whistlev1.ListHotSpotsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var tickets [][]string
			for _, h := range resp.GetHotSpots() {
				got = append(got, h.GetRule()+" "+h.GetOrgUnitId()+" "+h.GetCategory())
				tickets = append(tickets, h.GetTicketIds())
				for _, id := range h.GetTicketIds() {
					if !strings.Contains(h.GetExplanation(), id) {
						t.Errorf("the explanation %q does not name %s", h.GetExplanation(), id)
					}
				}
			}
			if !slices.Equal(got, tc.want) || len(tickets) != len(tc.tickets) {
				t.Fatalf("hot spots %v, want %v", got, tc.want)
			}
			for i := range tickets {
				if !slices.Equal(tickets[i], tc.tickets[i]) {
					t.Errorf("hot spot %s from %v, want %v", got[i], tickets[i], tc.tickets[i])
				}
			}
			// Each hot spot asks intake for exactly one proactive ticket.
			var asked []string
			for _, ev := range platformtest.Outbox(t, deps.DB) {
				if h := ev.GetProactive(); h != nil {
					asked = append(asked, h.GetRule()+" "+h.GetCategory())
					if h.GetGridId() == "" || h.GetDescription() == "" || len(h.GetTicketIds()) == 0 {
						t.Errorf("proactive event %v lacks a grid, a description or tickets", h)
					}
				}
			}
			if len(asked) != len(tc.want) {
				t.Fatalf("%d proactive events %v for %d hot spots", len(asked), asked, len(tc.want))
			}
		})
	}
}
