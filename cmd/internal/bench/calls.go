package bench

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/clock"
)

// The RPCs the run times and counts errors of.
const (
	rpcReport       = "Report"
	rpcAccept       = "Accept"
	rpcReportAssist = "ReportAssist"
	rpcResolve      = "Resolve"
	rpcEvaluate     = "Evaluate"
	rpcGetTimeline  = "GetTimeline"
	rpcGetCatalog   = "GetCatalog"
	rpcWatchInbox   = "WatchInbox"
	rpcWatchEvents  = "WatchEvents"
)

// mutating names the calls that change state (one transaction each).
var mutating = map[string]bool{rpcReport: true, rpcAccept: true, rpcReportAssist: true, rpcResolve: true, rpcEvaluate: true}

const (
	// callTimeout bounds one attempt of a call.
	callTimeout = 10 * time.Second
	// attempts is how often a call failing for a passing reason is tried.
	attempts = 5
)

// call makes a call, trying again (up to attempts times, 50 ms doubling
// apart) while it fails for a reason that may pass. Mutating calls carry
// request ids (or idempotency keys), so a retry never acts twice. The time
// of the attempt that succeeded is a sample of the RPC's latency; every
// failed attempt is counted by code, except those cut short by the run's end.
func (r *loopRun) call(ctx context.Context, rpc string, fn func(ctx context.Context) error) error {
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		start := time.Now()
		err := fn(cctx)
		took := time.Since(start)
		cancel()
		if err == nil {
			if s := r.lat[rpc]; s != nil {
				s.Add(took)
			}
			if mutating[rpc] {
				r.mutations.Add(1)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		r.errs.Add(rpc, err)
		if attempt == attempts || !transient(err) {
			return err
		}
		if !clock.Sleep(ctx, delay) {
			return err
		}
		delay *= 2
	}
}

// transient reports whether a failure may pass by itself.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}
