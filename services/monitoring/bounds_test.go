package monitoring_test

import (
	"context"
	"testing"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/services/monitoring"
)

// TestOutOfBoundsQueriesAreRefused: each query has one field out of its
// bound and is InvalidArgument naming the field; a refused rebuild leaves the
// read models as they were.
func TestOutOfBoundsQueriesAreRefused(t *testing.T) {
	t.Parallel()
	_, p, client := monitor(t, monitoring.Config{})
	project(t, p, knownDataset()...)
	ctx := context.Background()
	before := card(t, client, "xc", week45)
	day := func(date string) *whistlev1.Period {
		return &whistlev1.Period{Kind: whistlev1.PeriodKind_PERIOD_KIND_DAY, Date: date}
	}
	watch := func(types ...string) func() error {
		return func() error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stream, err := client.WatchEvents(ctx, &whistlev1.WatchEventsRequest{EventTypes: types})
			if err != nil {
				return err
			}
			_, err = stream.Recv()
			return err
		}
	}
	tests := []struct {
		name  string
		call  func() error
		field string // the status message names it
	}{
		{"a day before 2000", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc", Period: day("1999-12-31")})
			return err
		}, "period.date"},
		{"a custom period to 9999", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc", Period: &whistlev1.Period{
				Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: "2026-01-01", ToDate: "9999-12-31"}})
			return err
		}, "period.to_date"},
		{"a custom period into 2101", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc", Period: &whistlev1.Period{
				Kind: whistlev1.PeriodKind_PERIOD_KIND_CUSTOM, FromDate: "2026-01-01", ToDate: "2101-01-01"}})
			return err
		}, "period.to_date"},
		{"a unit with spaces", func() error {
			_, err := client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: "xc hd", Period: week45})
			return err
		}, "org_unit_id"},
		{"the month 9999-12", func() error {
			_, err := client.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: "xc", Month: "9999-12"})
			return err
		}, "month"},
		{"a figure in words", func() error {
			_, err := client.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: whistlev1.RankingLevel_RANKING_LEVEL_STREET,
				Figure: "Response Rate", Period: week45})
			return err
		}, "figure"},
		{"overdue of a unit in capitals", func() error {
			_, err := client.ListOverdue(ctx, &whistlev1.ListOverdueRequest{OrgUnitId: "XC"})
			return err
		}, "org_unit_id"},
		{"hot spots of a unit with spaces", func() error {
			_, err := client.ListHotSpots(ctx, &whistlev1.ListHotSpotsRequest{OrgUnitId: "xc hd"})
			return err
		}, "org_unit_id"},
		{"an event type twice", watch("dispatched", "dispatched"), "event_types"},
		{"an event type that is no name", watch("dispatched; DROP TABLE"), "event_types[0]"},
		{"a rebuild by a name with a bidi override", func() error {
			_, err := client.RebuildProjections(ctx, &whistlev1.RebuildProjectionsRequest{Actor: &whistlev1.Actor{
				Id: "admin-1", OrgUnitId: "hh", DisplayName: "admin\u202e"}})
			return err
		}, "actor.display_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { grpctest.WantInvalidArgument(t, tt.call(), tt.field) })
	}
	if after := card(t, client, "xc", week45); after != before {
		t.Fatalf("scorecard changed:\n before %s\n after  %s", before, after)
	}
}
