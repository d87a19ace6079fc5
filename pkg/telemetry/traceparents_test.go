package telemetry_test

import (
	"context"
	"testing"

	"github.com/whistle-civic/whistle/pkg/telemetry"
)

func TestTraceParentsReadEachTicketOnceAndForgetTheLeastUsed(t *testing.T) {
	t.Parallel()
	stored := map[string]string{"a": "00-aa-01", "b": "00-bb-01", "c": "00-cc-01"}
	reads := map[string]int{}
	tps := telemetry.NewTraceParents(2, func(_ context.Context, id string) string {
		reads[id]++
		return stored[id]
	})
	ctx := context.Background()
	for _, step := range []struct {
		id, want string
		reads    int
	}{
		{"a", "00-aa-01", 1}, {"a", "00-aa-01", 1}, // remembered
		{"x", "", 1}, {"x", "", 2}, // not found yet: asked again
		{"b", "00-bb-01", 1}, {"c", "00-cc-01", 1}, // a is now the least recently used of three
		{"a", "00-aa-01", 2}, // forgotten, read again
		{"c", "00-cc-01", 1},
	} {
		if got := tps.Get(ctx, step.id); got != step.want || reads[step.id] != step.reads {
			t.Fatalf("Get(%s) = %q after %d reads; want %q after %d", step.id, got, reads[step.id], step.want, step.reads)
		}
	}
}
