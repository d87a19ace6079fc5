package monitoring_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/monitoring"
)

// running is a monitoring service consuming its own JetStream.
type running struct {
	deps   platform.Deps
	svc    *monitoring.Service
	client whistlev1.MonitoringServiceClient
}

func runMonitoring(t *testing.T) running {
	t.Helper()
	deps := platformtest.Deps(t, monitoring.Name, monitoring.Migrations(), nil, nil)
	svc, err := monitoring.New(deps, monitoring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	conn := grpctest.Serve(t, grpcserver.Options{Log: deps.Log}, svc.Register)
	return running{deps: deps, svc: svc, client: whistlev1.NewMonitoringServiceClient(conn)}
}

// publish puts stories' events on the stream, as the services' relays do.
func (r running) publish(t *testing.T, stories ...*story) {
	t.Helper()
	for _, s := range stories {
		for _, ev := range s.events {
			data, err := proto.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.deps.Bus.JetStream().Publish(context.Background(), r.deps.Bus.Subject(events.TypeOf(ev)), data); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// models prints the read models of the known dataset.
func (r running) models(t *testing.T, stories []*story) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	show := func(m proto.Message, err error) {
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, m)
	}
	for _, s := range stories {
		show(r.client.GetTimeline(ctx, &whistlev1.GetTimelineRequest{TicketId: s.id}))
	}
	show(r.client.GetCounts(ctx, &whistlev1.GetCountsRequest{IncludeSynthetic: true}))
	for _, unit := range []string{"hh", "xc", "xc-hd", "xc-hd-dj", "xc-hd-wy", "xc-xh", "xc-urban", "xc-water"} {
		show(r.client.GetScorecard(ctx, &whistlev1.GetScorecardRequest{OrgUnitId: unit, Period: week45}))
	}
	for level := whistlev1.RankingLevel_RANKING_LEVEL_DISTRICT; level <= whistlev1.RankingLevel_RANKING_LEVEL_DEPARTMENT; level++ {
		show(r.client.GetRankings(ctx, &whistlev1.GetRankingsRequest{Level: level, Figure: "satisfaction_rate", Period: week45}))
	}
	show(r.client.ListOverdue(ctx, &whistlev1.ListOverdueRequest{}))
	show(r.client.GetEscalationBoard(ctx, &whistlev1.GetEscalationBoardRequest{}))
	show(r.client.GetTopProblems(ctx, &whistlev1.GetTopProblemsRequest{DistrictId: "xc", Month: "2026-11"}))
	return b.String()
}

func TestRebuildFromTheStreamEqualsTheLiveProjection(t *testing.T) {
	t.Parallel()
	r := runMonitoring(t)
	stories := knownDataset()
	r.publish(t, stories...)
	last := stories[len(stories)-1]
	eventually.True(t, "the dataset projected", func() bool {
		c, err := r.client.GetCounts(context.Background(), &whistlev1.GetCountsRequest{IncludeSynthetic: true})
		return err == nil && c.GetTotal() == int64(len(stories)) &&
			card(t, r.client, "hh", week45) == "response_rate=3/4 resolution_rate=3/4 on_time_resolution_rate=2/4 closing_rate=3/4 stayed_resolved_rate=3/3 "+
				"satisfaction_rate=2/3 audited_satisfaction_rate=0/0 rework_rate=1/3 default_close_rate=1/3 reported=6/1 dispatched=5/1 cancelled=0/1 withdrawn=0/1 merged=0/1 repeated=0/1 open=3 overdue=1" &&
			len(r.timeline(t, last.id)) == len(last.events)
	})
	live := r.models(t, stories)

	// Wreck the read models; a rebuild must bring them back from the stream alone.
	if _, err := r.deps.DB.Pool.Exec(context.Background(), `UPDATE scores SET n = n + 100; DELETE FROM timeline;
		UPDATE tickets SET status = 1; DELETE FROM live`); err != nil {
		t.Fatal(err)
	}
	if r.models(t, stories) == live {
		t.Fatal("the wrecked read models still look live")
	}
	// An event arriving during the rebuild waits, then applies: nothing is lost.
	late := report("xc-hd-wy-g02", "noise", local(3, 9, 0))
	var calls atomic.Int32
	res, err := r.svc.Rebuild(context.Background(), func(done, total uint64) {
		if calls.Add(1) == 1 {
			r.publish(t, late)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var total int
	for _, s := range stories {
		total += len(s.events)
	}
	if res.Replayed != uint64(total) || res.Skipped != 0 || calls.Load() == 0 {
		t.Fatalf("rebuild replayed %d events and skipped %d, with %d progress reports; want %d, 0 and some",
			res.Replayed, res.Skipped, calls.Load(), total)
	}
	eventually.True(t, "the late report projected", func() bool { return len(r.timeline(t, late.id)) == 1 })
	all := append(stories[:len(stories):len(stories)], late)
	rebuilt := r.models(t, all)

	// The same events projected live by another instance give the same models.
	other := runMonitoring(t)
	other.publish(t, all...)
	eventually.True(t, "the other instance to project everything", func() bool {
		c, err := other.client.GetCounts(context.Background(), &whistlev1.GetCountsRequest{IncludeSynthetic: true})
		return err == nil && c.GetTotal() == int64(len(all)) && len(other.timeline(t, last.id)) == len(last.events)
	})
	if want := other.models(t, all); rebuilt != want {
		t.Fatalf("rebuild differs from the live projection:\n got %s\nwant %s", rebuilt, want)
	}
}

func (r running) timeline(t *testing.T, id string) []*whistlev1.TimelineEntry {
	resp, err := r.client.GetTimeline(context.Background(), &whistlev1.GetTimelineRequest{TicketId: id})
	if err != nil {
		return nil
	}
	return resp.GetEntries()
}
