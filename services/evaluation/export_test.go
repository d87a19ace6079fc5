package evaluation

import (
	"context"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Apply exposes the consumers' effects to the tests, by event type.
func Apply(s *Service) func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
	return func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
		switch events.TypeOf(ev) {
		case events.Reported:
			return s.applyReported(ctx, ev)
		case events.Dispatched:
			return s.applyDispatched(ctx, ev)
		default:
			return s.applyResolved(ctx, ev)
		}
	}
}
