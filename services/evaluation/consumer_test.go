package evaluation_test

import (
	"slices"
	"testing"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/evaluation"
)

// TestOneConsumer: evaluation takes every event it follows through one consumer,
// named for the service, which took over the work of the former ones and
// their inbox.
func TestOneConsumer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := evaluation.Consumer(f.svc)
	want := []string{events.Resolved, events.Reported, events.Dispatched, events.Merged}
	slices.Sort(want)
	if c.Name != evaluation.Name || !slices.Equal(c.EventTypes, want) {
		t.Fatalf("consumer %s of %v; want %s of %v", c.Name, c.EventTypes, evaluation.Name, want)
	}
	if want := []string{"evaluation-reporters", "evaluation-areas"}; !slices.Equal(c.Replaces, want) {
		t.Fatalf("replaces %v; want %v", c.Replaces, want)
	}
	platformtest.CarryOver(t, evaluation.Name, evaluation.Migrations(), c, "00004_one_consumer.sql")
}
