package monitoring_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/monitoring"
)

// BenchmarkProjectEvent measures applying one event to the read models (the
// ticket's timeline and state, its units' figures, the hot spot rules) as
// the monitoring consumer does: through the inbox Processor with the
// service's apply, one transaction per event, against PostgreSQL. Fresh
// tickets each go reported → dispatched → accepted → resolved → evaluated →
// closed, their grids and matters taken round robin from the seed catalog;
// writing a ticket's events is untimed.
func BenchmarkProjectEvent(b *testing.B) {
	deps := platformtest.Deps(b, monitoring.Name, monitoring.Migrations(), nil, nil)
	svc, err := monitoring.New(deps, monitoring.Config{})
	if err != nil {
		b.Fatal(err)
	}
	p := &inbox.Processor{DB: deps.DB, Consumer: monitoring.Name, Apply: monitoring.Apply(svc)}
	grids := []string{"xc-hd-dj-g01", "xc-hd-wy-g02", "xc-xh-jy-g01", "hn-bt-lq-g01", "hn-qs-fx-g02", "yq-ht-dls-g01", "yq-ht-wjy-g02"}
	matters := []struct{ category, kind string }{{"road_damage", "urban"}, {"water_leak", "water"}, {"street_light_out", "urban"},
		{"drain_blocked", "water"}, {"garbage_overflow", "urban"}}
	satisfied := whistlev1.Verdict_VERDICT_SATISFIED
	ctx := context.Background()
	var pending []*whistlev1.Event
	tickets := 0
	b.ReportAllocs()
	for b.Loop() {
		if len(pending) == 0 {
			b.StopTimer()
			grid, m := grids[tickets%len(grids)], matters[tickets%len(matters)]
			dept := strings.SplitN(grid, "-", 2)[0] + "-" + m.kind
			at := local(2, 8, 0).Add(time.Duration(tickets) * 7 * time.Minute)
			pending = report(grid, m.category, at).dispatch(dept, at.Add(5*time.Minute)).accept(dept, at.Add(30*time.Minute)).
				resolve(dept, at.Add(26*time.Hour)).evaluate(dept, satisfied, false, at.Add(28*time.Hour)).
				close(satisfied, false, at.Add(28*time.Hour)).events
			tickets++
			b.StartTimer()
		}
		ev := pending[0]
		pending = pending[1:]
		if outcome, err := p.Process(ctx, ev); err != nil || outcome != inbox.OutcomeApplied {
			b.Fatalf("%s v%d of %s: %s %v", events.TypeOf(ev), ev.GetTicketVersion(), ev.GetTicketId(), outcome, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkProjectBatch measures a batch of 64 events (16 fresh tickets, 4
// events each, interleaved as a stream carries them) through the monitoring
// consumer's inbox Processor: set-based in 4 partitions, as the service runs
// it, against the same batch applied event by event in one transaction.
func BenchmarkProjectBatch(b *testing.B) {
	for _, tc := range []struct {
		name       string
		set        bool
		partitions int
	}{{"set_based_4_partitions", true, 4}, {"event_by_event", false, 1}} {
		b.Run(tc.name, func(b *testing.B) {
			deps := platformtest.Deps(b, monitoring.Name, monitoring.Migrations(), nil, nil)
			svc, err := monitoring.New(deps, monitoring.Config{})
			if err != nil {
				b.Fatal(err)
			}
			p := &inbox.Processor{DB: deps.DB, Consumer: monitoring.Name, Apply: monitoring.Apply(svc), Partitions: tc.partitions}
			if tc.set {
				p.ApplySet = monitoring.ApplySet(svc)
			}
			ctx := context.Background()
			batches := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				var stories []*story
				for i := range 16 {
					n := batches*16 + i
					grid, category := benchGrids[n%len(benchGrids)], benchMatters[n%len(benchMatters)]
					dept := strings.SplitN(grid, "-", 2)[0] + "-urban"
					at := local(2, 8, 0).Add(time.Duration(n) * 7 * time.Minute)
					stories = append(stories, report(grid, category, at).dispatch(dept, at.Add(5*time.Minute)).
						accept(dept, at.Add(30*time.Minute)).resolve(dept, at.Add(26*time.Hour)))
				}
				batch := platformtest.Deliveries(b, interleave(stories))
				batches++
				b.StartTimer()
				for i, err := range p.HandleBatch(ctx, batch) {
					if err != nil {
						b.Fatalf("event %d: %v", i, err)
					}
				}
			}
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// benchGrids and benchMatters spread a benchmark's tickets over places and
// matters, as a city's are (so the hot spot rules see few of each).
var (
	benchGrids   = []string{"xc-hd-dj-g01", "xc-hd-wy-g02", "xc-xh-jy-g01", "hn-bt-lq-g01", "hn-qs-fx-g02", "yq-ht-dls-g01", "yq-ht-wjy-g02"}
	benchMatters = []string{"road_damage", "water_leak", "street_light_out", "drain_blocked", "garbage_overflow"}
)
