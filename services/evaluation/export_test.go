package evaluation

import (
	"context"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	eventinbox "github.com/whistle-civic/whistle/pkg/inbox"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// Apply exposes the consumer's effects to the tests, routed by event type
// as the service's consumer routes them.
func Apply(s *Service) func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
	return s.consumer().Apply
}

// Consumer exposes the service's consumer.
func Consumer(s *Service) platform.Consumer { return s.consumer() }

// ApplySet exposes the consumer's batch effect to the tests.
func ApplySet(s *Service) eventinbox.SetFunc { return s.consumer().ApplySet }
