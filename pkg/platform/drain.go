package platform

import (
	"context"
	"log/slog"
	"time"

	"github.com/whistle-civic/whistle/pkg/backoff"
	"github.com/whistle-civic/whistle/pkg/clock"
)

// Drain empties a queue in rounds until ctx ends: round runs again at once
// while it says more may be waiting, and otherwise after a wake-up on wake
// (see Signal) or after poll, which finds what came due meanwhile (a retry's
// time) or what another replica queued. A failed round is logged at Warn
// with what names the queue, and retried after pkg/backoff's delay (250 ms
// doubling up to 10 s). Default poll: 1 s.
func Drain(ctx context.Context, wake <-chan struct{}, poll time.Duration, log *slog.Logger, what string,
	round func(context.Context) (more bool, err error)) {
	if poll <= 0 {
		poll = time.Second
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for failures := 0; ctx.Err() == nil; {
		more, err := round(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			failures++
			delay := backoff.Delay(failures, 250*time.Millisecond, 10*time.Second)
			log.Warn(what+" failed; retrying", "err", err, "retry_in", delay)
			clock.Sleep(ctx, delay)
			continue
		case more:
			failures = 0
			continue
		}
		failures = 0
		select {
		case <-ctx.Done():
		case <-wake:
		case <-tick.C:
		}
	}
}

// Signal wakes a Drain waiting on ch (made with capacity 1) without
// blocking: a wake-up already pending is enough.
func Signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
