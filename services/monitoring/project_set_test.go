package monitoring_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
	"github.com/whistle-civic/whistle/services/monitoring"
)

// TestSetBasedBatchesProjectAsOneByOne projects the known dataset and more
// tickets twice: one event at a time in its own transaction, and in batches
// applied set-based, split by ticket into partitions applied side by side,
// with every event of some batches delivered twice. The read models must be
// the same, and the batches must have taken the set-based path.
func TestSetBasedBatchesProjectAsOneByOne(t *testing.T) {
	t.Parallel()
	stories := append(knownDataset(), moreStories()...)
	one := newRunning(t)
	project(t, one.p, stories...)
	want := one.models(t, stories)
	for _, tc := range []struct {
		name              string
		batch, partitions int
	}{
		{"one event a batch", 1, 1},
		{"batches of 7, one partition", 7, 1},
		{"batches of 64 in 4 partitions", 64, 4},
		{"batches of 256 in 8 partitions", 256, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRunning(t)
			var sets, refused atomic.Int64
			r.p.Partitions = tc.partitions
			set := monitoring.ApplySet(r.svc)
			r.p.ApplySet = func(ctx context.Context, items []inbox.Item) ([]ticket.Decision, error) {
				sets.Add(1)
				d, err := set(ctx, items)
				if err != nil {
					t.Logf("set-based batch refused: %v", err)
				}
				if err != nil || containsLater(d) {
					refused.Add(1)
				}
				return d, err
			}
			stream := interleave(stories)
			for i := 0; i < len(stream); i += tc.batch {
				msgs := stream[i:min(i+tc.batch, len(stream))]
				if i/tc.batch%3 == 1 {
					msgs = slices.Concat(msgs, msgs) // redelivered within the batch
				}
				for k, err := range r.p.HandleBatch(context.Background(), platformtest.Deliveries(t, msgs)) {
					if err != nil {
						t.Fatalf("event %d of batch at %d: %v", k, i, err)
					}
				}
			}
			if got := r.models(t, stories); got != want {
				t.Errorf("set-based read models differ from one by one:\n got %s\nwant %s", got, want)
			}
			if tc.batch > 1 && (sets.Load() == 0 || refused.Load() != 0) {
				t.Errorf("set-based path taken %d times, refused %d: want every batch taken set-based", sets.Load(), refused.Load())
			}
		})
	}
}

func containsLater(ds []ticket.Decision) bool {
	for _, d := range ds {
		if d == ticket.Later {
			return true
		}
	}
	return false
}

// testRun is a monitoring service and its consumer's inbox, not running.
type testRun struct {
	running
	p *inbox.Processor
}

func newRunning(t *testing.T) testRun {
	t.Helper()
	deps := platformtest.Deps(t, monitoring.Name, monitoring.Migrations(), nil, nil)
	svc, err := monitoring.New(deps, monitoring.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, p, client := monitorWith(t, deps, svc)
	return testRun{running: running{deps: deps, svc: svc, client: client}, p: p}
}

// moreStories are tickets on the same units and days as the known dataset,
// many at once, so batches hold several events of a ticket and of its units.
func moreStories() []*story {
	d := func(day, h, m int) time.Time { return local(day, h, m) }
	var out []*story
	for i := range 40 {
		grid := []string{"xc-hd-dj-g01", "xc-hd-wy-g02", "xc-xh-jy-g01"}[i%3]
		dept := []string{"xc-urban", "xc-water"}[i%2]
		s := report(grid, []string{"road_damage", "noise", "water_leak"}[i%3], d(3, 9, i)).dispatch(dept, d(3, 9, i+1))
		switch i % 4 {
		case 0:
			s.accept(dept, d(3, 9, i+20)).resolve(dept, d(3, 12, i)).evaluate(dept, satisfied, false, d(3, 13, i)).
				close(satisfied, false, d(3, 13, i))
		case 1:
			s.accept(dept, d(3, 11, i)).resolve(dept, d(4, 9, i)).evaluate(dept, unhappy, false, d(4, 10, i)).
				reopen(dept, d(4, 10, i)).resolve(dept, d(4, 15, i)).evaluate(dept, basically, false, d(4, 16, i)).
				close(basically, false, d(4, 16, i))
		case 2:
			s.accept(dept, d(3, 9, i+30))
		}
		out = append(out, s)
	}
	return out
}

// interleave orders the stories' events as a stream would carry them: by
// turns, each ticket's events in order.
func interleave(stories []*story) []*whistlev1.Event {
	evs := make([][]*whistlev1.Event, len(stories))
	for i, s := range stories {
		evs[i] = s.events
	}
	return platformtest.Interleave(evs)
}
