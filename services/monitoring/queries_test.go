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
	"github.com/whistle-civic/whistle/services/monitoring"
)

func TestOverdueListPagesMostEscalatedFirstAndTheBoardCounts(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	at := local(2, 9, 0)
	overdue := func(grid, dept string, minutes int, levels ...string) *story {
		s := report(grid, "road_damage", at.Add(time.Duration(minutes)*time.Minute)).dispatch(dept, at.Add(time.Duration(minutes+1)*time.Minute))
		for i, stage := range levels {
			s.escalate(int32(i+1), stage, at.Add(time.Duration(minutes+61+i)*time.Minute))
		}
		return s
	}
	// Accept deadlines fall an hour after dispatch: 10:01, 10:02, 10:03, 10:04.
	a := overdue("xc-hd-dj-g01", "xc-urban", 0, "accept")
	b := overdue("xc-hd-wy-g01", "xc-water", 1, "accept", "accept", "accept")
	c := overdue("xc-xh-jy-g01", "xc-urban", 2, "accept", "accept")
	d := overdue("xc-hd-dj-g02", "xc-urban", 3, "accept", "accept")
	handled := overdue("xc-hd-dj-g02", "xc-urban", 4, "accept").accept("xc-urban", at.Add(3*time.Hour))
	project(t, p, a, b, c, d, handled)

	var got []string
	token := ""
	for page := 0; ; page++ {
		resp, err := client.ListOverdue(context.Background(), &whistlev1.ListOverdueRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range resp.GetTickets() {
			got = append(got, fmt.Sprintf("%s:L%d:%s:%s", o.GetState().GetTicketId()[len(o.GetState().GetTicketId())-4:],
				o.GetState().GetEscalationLevel(), o.GetStage(), o.GetDueAt().AsTime().In(cst).Format("15:04")))
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
		if page > 3 {
			t.Fatal("pages never end")
		}
	}
	short := func(s *story) string { return s.id[len(s.id)-4:] }
	want := []string{short(b) + ":L3:accept:10:02", short(c) + ":L2:accept:10:03", short(d) + ":L2:accept:10:04", short(a) + ":L1:accept:10:01"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("overdue pages\n got %v\nwant %v", got, want)
	}
	resp, err := client.ListOverdue(context.Background(), &whistlev1.ListOverdueRequest{OrgUnitId: "xc-xh"})
	if err != nil || len(resp.GetTickets()) != 1 || resp.GetTickets()[0].GetState().GetTicketId() != c.id {
		t.Fatalf("overdue in xc-xh: %v %v", resp, err)
	}

	board, err := client.GetEscalationBoard(context.Background(), &whistlev1.GetEscalationBoardRequest{OrgUnitId: "xc-hd"})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range board.GetRows() {
		rows = append(rows, fmt.Sprintf("%s=%d/%d/%d", r.GetOrgUnitId(), r.GetLevel_1(), r.GetLevel_2(), r.GetLevel_3()))
	}
	// In street xc-hd: a (L1), b (L3), d (L2) and the handled one (L1, still open).
	if got, want := strings.Join(rows, " "), "xc-hd=2/1/1 xc-water=0/0/1 xc-urban=2/1/0"; got != want {
		t.Fatalf("board of xc-hd\n got %s\nwant %s", got, want)
	}
}

func TestTopProblemsOfADistrictsMonth(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	october := routed("xc-hd-dj-g01", "noise", time.Date(2026, 10, 30, 10, 0, 0, 0, cst))
	proactive := newStory("xc-hd-dj-g01", "road_damage", local(3, 10, 0), false, whistlev1.Source_SOURCE_PROACTIVE).
		dispatch("xc-urban", local(3, 10, 1))
	project(t, p, append(knownDataset(), october, proactive)...)
	resp, err := client.GetTopProblems(context.Background(), &whistlev1.GetTopProblemsRequest{DistrictId: "xc", Month: "2026-11", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pr := range resp.GetProblems() {
		got = append(got, fmt.Sprintf("%s=%d(%d,%.2f)", pr.GetCategory(), pr.GetCount(), pr.GetPreviousCount(), pr.GetShare()))
	}
	// Six reports in November (test traffic, and the proactive ticket that
	// restates reports, left out), one in October.
	if want := "road_damage=2(0,0.33) water_leak=2(0,0.33) noise=1(1,0.17)"; strings.Join(got, " ") != want {
		t.Fatalf("top problems\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestWatchEventsStreamsProjectedEventsOfTheWantedTypes(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.WatchEvents(ctx, &whistlev1.WatchEventsRequest{EventTypes: []string{"dispatched", "closed"}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || !first.GetHeartbeat() {
		t.Fatalf("first message %v %v, want the heartbeat that says the watch is live", first, err)
	}
	stories := knownDataset()[:2]
	project(t, p, stories...)
	var got []string
	for len(got) < 3 {
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if !m.GetHeartbeat() {
			got = append(got, m.GetEntry().GetEventType()+"@"+m.GetTicketId())
		}
	}
	want := []string{"dispatched@" + stories[0].id, "closed@" + stories[0].id, "dispatched@" + stories[1].id}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("watched %v, want %v", got, want)
	}
}

func TestBadQueriesAreRefusedWithTheirReason(t *testing.T) {
	t.Parallel()
	_, _, client := monitor(t, monitoring.Config{})
	ctx := context.Background()
	day := func(date string) *whistlev1.Period {
		return &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_DAY, Date: date}
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"no period kind", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc", Period: &whistlev1.Period{Date: "2026-11-02"}})
			return err
		}, "period.kind"},
		{"a day without a date", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc", Period: day("")})
			return err
		}, "date (YYYY-MM-DD)"},
		{"no such day", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc", Period: day("2026-02-30")})
			return err
		}, "period is incomplete"},
		{"a custom period backwards", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc", Period: &whistlev1.Period{
				Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: "2026-11-05", ToDate: "2026-11-01"}})
			return err
		}, "from before to"},
		{"no unit", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{Period: day("2026-11-02")})
			return err
		}, "org_unit_id"},
		{"a forged page token", func() error {
			_, err := client.ListOverdue(ctx, &whistlev1.ListOverdueRequest{PageToken: "bm90IGEgdG9rZW4"})
			return err
		}, "page_token is not valid"},
		{"a month that is not one", func() error {
			_, err := client.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: "xc", Month: "2026-13"})
			return err
		}, "period is incomplete"},
		{"no ranking level", func() error {
			_, err := client.GetRankings(ctx, &whistlev1.GetRankingsRequest{Figure: "response_rate", Period: day("2026-11-02")})
			return err
		}, "level"},
		{"a rebuild by nobody", func() error {
			_, err := client.RebuildProjections(ctx, &whistlev1.RebuildProjectionsRequest{})
			return err
		}, "actor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want InvalidArgument mentioning %q", err, tc.want)
			}
		})
	}
}

func TestQueriesAboutUnknownOrWrongUnitsSaySo(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	project(t, p, knownDataset()...)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
		code codes.Code
		want string
	}{
		{"a scorecard of a unit never counted", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc-nowhere", Period: week45})
			return err
		}, codes.NotFound, "no ticket has been counted in this org unit"},
		{"rankings within a unit never counted", func() error {
			_, err := client.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_STREET,
				Figure: "response_rate", Period: week45, Within: "zz"})
			return err
		}, codes.NotFound, "check the id"},
		{"departments within an area", func() error {
			_, err := client.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT,
				Figure: "response_rate", Period: week45, Within: "xc"})
			return err
		}, codes.InvalidArgument, "not to departments"},
		{"top problems of a street", func() error {
			_, err := client.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: "xc-hd", Month: "2026-11"})
			return err
		}, codes.InvalidArgument, "xc-hd is a street: top problems are listed per district"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %s mentioning %q", err, tc.code, tc.want)
			}
		})
	}
}
