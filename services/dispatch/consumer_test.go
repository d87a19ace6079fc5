package dispatch_test

import (
	"slices"
	"testing"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/dispatch"
)

// TestOneConsumer: dispatch takes every event it follows through one consumer,
// named for the service, which took over the work of the former ones and
// their inbox.
func TestOneConsumer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dispatch.Config{})
	c := dispatch.Consumer(f.svc)
	want := []string{events.Reported, events.Accepted, events.Returned, events.Resolved, events.Reopened, events.Closed,
		events.Merged, events.Cancelled, events.Progressed, events.ExtensionRequested}
	slices.Sort(want)
	if c.Name != dispatch.Name || !slices.Equal(c.EventTypes, want) {
		t.Fatalf("consumer %s of %v; want %s of %v", c.Name, c.EventTypes, dispatch.Name, want)
	}
	if want := []string{"dispatch-follow", "dispatch-notes"}; !slices.Equal(c.Replaces, want) {
		t.Fatalf("replaces %v; want %v", c.Replaces, want)
	}
	platformtest.CarryOver(t, dispatch.Name, dispatch.Migrations(), c, "00004_one_consumer.sql")
}
