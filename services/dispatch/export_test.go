package dispatch

import (
	"context"

	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Apply exposes the consumers' effects to the tests, by event type.
func Apply(s *Service) func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
	return func(ctx context.Context, ev *whistlev1.Event) (ticket.Decision, error) {
		switch typ := events.TypeOf(ev); {
		case typ == events.Reported:
			return s.applyReported(ctx, ev)
		case typ == events.Progressed || typ == events.ExtensionRequested:
			return s.applyAnnotated(ctx, ev)
		default:
			return s.applyFollowed(ctx, ev)
		}
	}
}
