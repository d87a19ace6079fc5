package bench

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/backoff"
	"github.com/whistle-civic/whistle/pkg/clock"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// watchedTypes are the events the run follows.
var watchedTypes = []string{"reported", "dispatched", "resolved", "evaluation_opened", "evaluated", "reopened", "closed"}

// watchEvents follows every projected event as the city's monitor (the
// monitoring service's WatchEvents: ticket id, event type and occurred_at
// of each event, as soon as it is projected) and applies those of the run's
// tickets: their server times, the closing, and, on "evaluation_opened", an
// evaluator taking the round up. Events missed while the stream was broken
// are found by the sweeper.
func (r *loopRun) watchEvents(ctx context.Context, ready *readyOnce) {
	for failures := 0; ctx.Err() == nil; failures++ {
		err := r.eventsOnce(ctx, ready)
		if ctx.Err() != nil {
			return
		}
		r.errs.Add(rpcWatchEvents, err)
		r.reconnects.Add(1)
		clock.Sleep(ctx, backoff.Delay(failures+1, 100*time.Millisecond, 3*time.Second))
	}
}

func (r *loopRun) eventsOnce(ctx context.Context, ready *readyOnce) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.d.Clients.Monitoring.WatchEvents(r.d.As(ctx, auth.RoleMonitor, r.d.City),
		&whistlev1.WatchEventsRequest{EventTypes: watchedTypes})
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		if msg.GetHeartbeat() {
			ready.mark()
			continue
		}
		r.onEvent(msg.GetTicketId(), msg.GetEntry(), r.now())
	}
}

// onEvent applies an event and starts an evaluator when a round opens; it
// reports whether the event was new.
func (r *loopRun) onEvent(id string, e *whistlev1.TimelineEntry, at time.Time) bool {
	tk, round, fresh := r.tr.event(id, e, at)
	if round > 0 {
		r.spawn(func() { r.evaluate(r.drain, tk, round) })
	}
	return fresh
}

// evaluate is the reporting community's evaluator, told that the round is
// open (evaluation_opened): it gives its verdict, unsatisfied in round 1 for
// the planned share, else satisfied.
func (r *loopRun) evaluate(ctx context.Context, tk *ticket, round int) {
	judge := r.d.As(ctx, auth.RoleCommunityOfficer, tk.plan.grid)
	r.tr.evalOpened(tk, round, r.now())
	verdict := whistlev1.Verdict_VERDICT_SATISFIED
	var reasons []string
	if tk.plan.unsatisfied && round == 1 {
		verdict, reasons = whistlev1.Verdict_VERDICT_UNSATISFIED, []string{"not_fixed"}
	}
	err := r.call(judge, rpcEvaluate, func(ctx context.Context) error {
		_, err := r.d.Clients.Evaluation.Evaluate(ctx, &whistlev1.EvaluateRequest{TicketId: tk.id, Verdict: verdict,
			ReasonCodes: reasons, RequestId: fmt.Sprintf("%s-evaluate-%d", tk.id, round),
			Evaluator: &whistlev1.Actor{Id: "bench-evaluator", OrgUnitId: tk.plan.grid, DisplayName: "bench"}})
		return err
	})
	if err != nil {
		r.tr.fail(tk)
	}
}

// sweep finds what the event stream missed (while it reconnected, or was
// dropped as too slow): every second it reads the timelines of up to 50 of
// the run's open tickets that nothing happened to for 3 s, and applies the
// events it finds there.
func (r *loopRun) sweep(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, tk := range r.tr.stalled(50, 3*time.Second, time.Minute) {
			r.fillIn(ctx, tk.id)
		}
	}
}

// fillIn applies the events of a ticket's timeline the run has not seen.
func (r *loopRun) fillIn(ctx context.Context, id string) {
	var entries []*whistlev1.TimelineEntry
	err := r.call(ctx, rpcGetTimeline, func(ctx context.Context) error {
		resp, err := r.d.Clients.Monitoring.GetTimeline(r.d.As(ctx, auth.RoleMonitor, r.d.City), &whistlev1.GetTimelineRequest{TicketId: id})
		if status.Code(err) == codes.NotFound {
			return nil // not projected yet
		}
		entries = resp.GetEntries()
		return err
	})
	if err != nil {
		return
	}
	for _, e := range entries {
		if watched(e.GetEventType()) && r.onEvent(id, e, r.now()) {
			r.filled.Add(1)
		}
	}
}

func watched(eventType string) bool {
	for _, t := range watchedTypes {
		if t == eventType {
			return true
		}
	}
	return false
}
