package intake

import (
	"context"
	"testing"
	"time"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/pkg/ticket"
)

// applyProactive exposes the proactive consumer's effect to the tests.
func ApplyProactive(s *Service) func(context.Context, *whistlev1.Event) (ticket.Decision, error) {
	return s.applyProactive
}

// Backlog is a reading of the backlog, for the decision's table tests.
type Backlog = backlog

// Refusal is the backpressure decision: c, with its defaults, on reading b.
func Refusal(c Backpressure, b Backlog) error { return c.withDefaults().refusal(b) }

// RefreshBackpressure reads the backlog figures once, as Run does every
// Backpressure.Every.
func RefreshBackpressure(ctx context.Context, s *Service) { s.pressure.refresh(ctx) }

// Pressure is the backpressure component on the given readers (nil: that
// figure is not read): refresh reads both once, check decides.
func Pressure(tb testing.TB, c Backpressure, outbox func(context.Context) (int, time.Duration, error),
	lag func(context.Context) (uint64, error)) (refresh func(context.Context), check func() error) {
	p := &pressure{cfg: c.withDefaults(), outbox: outbox, lag: lag, log: platformtest.Logger(tb)}
	return p.refresh, p.check
}
