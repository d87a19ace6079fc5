// Package bench is `whistle bench`, Whistle's load generator: simulated
// communities report tickets at a steady rate (or as fast as possible),
// simulated departments work their inboxes and simulated communities judge
// the results, all over the public gRPC APIs of a running deployment; the
// bench times every stage of the loop, counts errors, measures the CPU time
// and memory of the processes, and counts the durable work each ticket
// cost. It then runs the floor (floor.go): the same durable work with no
// business logic, on the same servers, and puts the loop's figures over
// the floor's. docs/performance.md says what each figure means.
package bench

import (
	"context"
	"time"
)

// Run drives the loop (unless o.FloorOnly) against d, counts the work per
// ticket, runs the floor when asked, and returns the report.
func Run(ctx context.Context, d *Deployment, o Options) (*Report, error) {
	o.defaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Started: o.Now(), RunID: o.RunID, Target: d.Describe, Model: o.model(), Rate: o.Rate,
		Concurrency: o.Concurrency, Unsatisfied: o.Unsatisfied, Seed: o.Seed}
	work := o.FloorWork
	if !o.FloorOnly {
		l, err := runLoop(ctx, d, o)
		if err != nil {
			return nil, err
		}
		rep.Loop = l
		if rep.Work, err = measureWork(ctx, d, rep); err != nil {
			return nil, err
		}
		if rep.Work != nil {
			work = rep.Work.Floor
		}
	}
	if !o.Floor && !o.FloorOnly {
		return rep, nil
	}
	if rep.Work == nil && !o.FloorOnly {
		rep.Notes = append(rep.Notes, "the floor ran with the default work per ticket: the loop's could not be counted")
	}
	f, err := RunFloor(ctx, d, o, work, FloorOptions{})
	if err != nil {
		return nil, err
	}
	rep.Floor = f
	if rep.Loop != nil {
		rep.Ratios = ratios(rep.Loop, f)
	}
	return rep, nil
}

// measureWork counts the loop's durable work per ticket, when the database
// can be reached.
func measureWork(ctx context.Context, d *Deployment, rep *Report) (*Work, error) {
	if d.DatabaseURL == "" {
		rep.Notes = append(rep.Notes, "work per ticket not counted: no database URL (pass --database-url)")
		return nil, nil
	}
	if len(rep.Loop.TicketIDs) == 0 {
		return nil, nil
	}
	return countWork(ctx, d.DatabaseURL, rep.Loop.TicketIDs, rep.Loop.MutatingCalls, rep.Started.Add(-5*time.Minute))
}
