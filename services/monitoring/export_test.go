package monitoring

import (
	"context"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Apply exposes the consumer's effect to the tests.
func Apply(s *Service) func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
	return s.applyEvent
}

// ApplySet exposes the consumer's batch effect to the tests.
func ApplySet(s *Service) inbox.SetFunc { return s.applyEvents }
