package response_test

import (
	"slices"
	"testing"

	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/response"
)

// TestOneConsumer: response takes every event it follows through one consumer,
// named for the service, which took over the work of the former ones and
// their inbox.
func TestOneConsumer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := response.Consumer(response.New(f.deps))
	want := []string{events.Dispatched, events.Arbitrated, events.Reopened, events.Closed, events.Merged, events.Cancelled,
		events.Escalated, events.Rescheduled, events.ExtensionDecided}
	slices.Sort(want)
	if c.Name != response.Name || !slices.Equal(c.EventTypes, want) {
		t.Fatalf("consumer %s of %v; want %s of %v", c.Name, c.EventTypes, response.Name, want)
	}
	if want := []string{"response-rework", "response-finish", "response-supervision"}; !slices.Equal(c.Replaces, want) {
		t.Fatalf("replaces %v; want %v", c.Replaces, want)
	}
	platformtest.CarryOver(t, response.Name, response.Migrations(), c, "00005_one_consumer.sql")
}
