package intake

import (
	"context"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// applyProactive exposes the proactive consumer's effect to the tests.
func ApplyProactive(s *Service) func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
	return s.applyProactive
}
