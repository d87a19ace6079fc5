package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// loopRun is one run of the whole loop: reporters, departments' handlers and
// communities' evaluators acting on their own, each on what it sees.
type loopRun struct {
	d    *Deployment
	o    Options
	tag  string // starts every title of the run: "bench <run id>"
	now  func() time.Time
	plan *planner
	tr   *tracker
	lat  map[string]*Samples
	errs Errors

	mutations, reportFailed, reconnects, filled atomic.Int64

	drain    context.Context // the actors': ends with the drain
	actors   sync.WaitGroup
	watchers sync.WaitGroup
	arr      arrivals
}

// spawn runs an actor's work in its own goroutine.
func (r *loopRun) spawn(fn func()) {
	r.actors.Add(1)
	go func() {
		defer r.actors.Done()
		fn()
	}()
}

// readyTimeout bounds how long the watches may take to go live.
const readyTimeout = 30 * time.Second

// runLoop drives the loop for o.Duration, drains, and reports.
func runLoop(ctx context.Context, d *Deployment, o Options) (*LoopReport, error) {
	r := &loopRun{d: d, o: o, tag: "bench " + o.RunID, now: o.Now, tr: newTracker(o.Now), lat: map[string]*Samples{}}
	for _, rpc := range []string{rpcReport, rpcAccept, rpcResolve, rpcEvaluate} {
		r.lat[rpc] = &Samples{}
	}
	depts, err := r.setup(ctx)
	if err != nil {
		return nil, err
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	drain, endDrain := context.WithCancel(ctx) // ends Duration+Drain after the start
	r.drain = drain
	stop := func() {
		endDrain()
		stopWatching()
		r.watchers.Wait()
		r.actors.Wait()
	}
	defer stop()
	if err := r.startWatching(watchCtx, depts); err != nil {
		return nil, err
	}
	start, end, procs := r.drive(endDrain)
	r.complete(ctx)
	stop() // every actor done: the figures are final
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return r.report(start, end, procs), nil
}

// drive lets tickets arrive for Duration and waits until they are all done
// or the drain ends, measuring the processes meanwhile.
func (r *loopRun) drive(endDrain func()) (start, end time.Time, procs []ProcessReport) {
	start = r.now()
	defer time.AfterFunc(r.o.Duration+r.o.Drain, endDrain).Stop()
	m := startMeter(append(r.d.Processes, Self()), time.Second)
	bar := showProgress(r.o.Progress, r.o.Terminal, "loop", [2]string{"reported", "closed"}, r.o.Duration, r.figures)
	r.arr.run(r.drain, r.o.Rate, r.o.Concurrency, r.o.Duration, func(i int) { r.reportTicket(r.drain, i) })
	r.arr.wait()
	bar.stop()
	return start, r.now(), m.stop()
}

// setup reads the catalog the tickets are drawn from, and its departments.
func (r *loopRun) setup(ctx context.Context) ([]string, error) {
	var cat *whistlev1.GetCatalogResponse
	err := r.call(ctx, rpcGetCatalog, func(ctx context.Context) (err error) {
		cat, err = r.d.Clients.Dispatch.GetCatalog(r.d.As(ctx, auth.RoleMonitor, r.d.City), &whistlev1.GetCatalogRequest{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the catalog to draw tickets from: %w (is Whistle running at the address, with these credentials?)", err)
	}
	if r.plan, err = newPlanner(cat, r.o.Seed, r.o.Unsatisfied); err != nil {
		return nil, err
	}
	return departments(cat), nil
}

// startWatching opens the event stream and every department's inbox watch,
// starts the sweeper, and waits until every watch is live.
func (r *loopRun) startWatching(ctx context.Context, depts []string) error {
	var ready []*readyOnce
	run := func(fn func()) {
		r.watchers.Add(1)
		go func() {
			defer r.watchers.Done()
			fn()
		}()
	}
	events := newReady()
	ready = append(ready, events)
	run(func() { r.watchEvents(ctx, events) })
	for _, dept := range depts {
		rd := newReady()
		ready = append(ready, rd)
		run(func() { r.watchInbox(ctx, dept, rd) })
	}
	run(func() { r.sweep(ctx) })
	timeout := time.After(readyTimeout)
	for _, rd := range ready {
		select {
		case <-rd.done():
		case <-timeout:
			return fmt.Errorf("the event stream and inbox watches did not all start within %s (errors so far: %v): "+
				"check the credentials may watch (monitor of the city, each department's handler)", readyTimeout, r.errs.Rows())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// figures feed the progress line.
func (r *loopRun) figures() figures {
	reported, closed, failed := r.tr.counts()
	return figures{started: reported, done: closed, inFlight: reported - closed - failed, errors: r.errs.Total()}
}

// complete reads the timelines of the tickets whose server times are not
// all known (an event the stream never brought, or one still to come).
func (r *loopRun) complete(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, t := range r.tr.snapshot() {
		if t.reportedAt.IsZero() || t.dispatched.IsZero() || t.closedAt.IsZero() || len(t.evaluated) < len(t.resolvedAt) {
			r.fillIn(ctx, t.id)
		}
	}
}

// report computes the run's figures over the window [start, start+Duration]
// (end: when the drain ended).
func (r *loopRun) report(start, end time.Time, procs []ProcessReport) *LoopReport {
	ts := r.tr.snapshot()
	rep := &LoopReport{Model: r.o.model(), WindowSeconds: r.o.Duration.Seconds(), DrainedSeconds: end.Sub(start).Seconds() - r.o.Duration.Seconds(),
		Arrivals: int(r.arr.started.Load()), Late: int(r.arr.late.Load()), MaxLagMs: ms(time.Duration(r.arr.maxLag.Load())),
		ReportFailed: int(r.reportFailed.Load()), Reconnects: int(r.reconnects.Load()), FilledIn: int(r.filled.Load()),
		Errors: r.errs.Rows(), Processes: procs, MutatingCalls: int(r.mutations.Load())}
	windowEnd := start.Add(r.o.Duration)
	for _, t := range ts {
		rep.Reported++
		if t.plan.unsatisfied {
			rep.PlannedUnsatisfied++
		}
		if t.closedSeen.IsZero() {
			rep.Stuck++
			continue
		}
		rep.Closed++
		if !t.closedSeen.After(windowEnd) {
			rep.ClosedInWindow++
		}
		if t.reopened && len(t.resolvedAt) >= 2 {
			rep.Reworked++
		}
	}
	rep.TicketsPerSecond = float64(rep.ClosedInWindow) / r.o.Duration.Seconds()
	rep.Stages = r.stages(ts)
	for _, t := range ts {
		rep.TicketIDs = append(rep.TicketIDs, t.id)
	}
	return rep
}

// The stages of the loop, as the report names them.
const (
	StageReport         = "report RPC"
	StageDispatch       = "reported → dispatched"
	StageInbox          = "dispatched → in inbox"
	StageAccept         = "accept RPC"
	StageResolve        = "resolve RPC"
	StageEvaluationOpen = "resolved → evaluation open"
	StageEvaluate       = "evaluate RPC"
	StageClose          = "evaluated → closed"
	StageEndToEnd       = "report → closed"
)

// stages computes each stage's latency from the tickets' times.
func (r *loopRun) stages(ts []ticket) []Stage {
	var disp, inbox, open, closing, whole []time.Duration
	for _, t := range ts {
		if !t.reportedAt.IsZero() && !t.dispatched.IsZero() {
			disp = append(disp, t.dispatched.Sub(t.reportedAt))
		}
		if !t.dispatched.IsZero() && !t.inboxSeen.IsZero() {
			inbox = append(inbox, t.inboxSeen.Sub(t.dispatched))
		}
		for i, at := range t.evalOpen {
			if i < len(t.resolvedAt) && !at.IsZero() {
				open = append(open, at.Sub(t.resolvedAt[i]))
			}
		}
		if !t.closedSeen.IsZero() && len(t.evaluated) > 0 {
			closing = append(closing, t.closedSeen.Sub(t.evaluated[len(t.evaluated)-1]))
		}
		if !t.closedSeen.IsZero() {
			whole = append(whole, t.closedSeen.Sub(t.reportStart))
		}
	}
	return []Stage{
		stageOf(StageReport, clockClient, r.lat[rpcReport].Summary()),
		stageOf(StageDispatch, clockServer, Summarize(disp)),
		stageOf(StageInbox, clockMixed, Summarize(inbox)),
		stageOf(StageAccept, clockClient, r.lat[rpcAccept].Summary()),
		stageOf(StageResolve, clockClient, r.lat[rpcResolve].Summary()),
		stageOf(StageEvaluationOpen, clockMixed, Summarize(open)),
		stageOf(StageEvaluate, clockClient, r.lat[rpcEvaluate].Summary()),
		stageOf(StageClose, clockMixed, Summarize(closing)),
		stageOf(StageEndToEnd, clockClient, Summarize(whole)),
	}
}
