package platform

import (
	"context"
	"time"
)

// Every runs f at once and then every period until ctx ends, each run after
// the one before returned (a slow run delays the next, never overlaps it).
// It logs nothing: f reports its own failures. A period of zero or less
// runs f never.
func Every(ctx context.Context, period time.Duration, f func(context.Context)) {
	if period <= 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
