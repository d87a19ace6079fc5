// Package bench is `whistle bench`, Whistle's load generator: simulated
// communities report tickets at a steady rate (or as fast as possible),
// simulated departments work their inboxes and simulated communities judge
// the results, all over the public gRPC APIs of a running deployment; the
// bench times every stage of the loop, counts errors, measures the CPU time
// and memory of the processes, and counts the durable work each ticket
// cost. It then runs the floor (floor.go): the same durable work with no
// business logic, on the same servers, and puts the loop's figures over
// the floor's; and the two reference floors (reference.go), fixed work
// done unbatched and group-committed, whose throughput it puts the loop's
// under too. docs/performance.md says what each figure means.
package bench

import (
	"context"
	"time"
)

// Run drives the loop (unless o.FloorOnly or o.ReferenceOnly) against d,
// counts the work per ticket, runs the floor and the reference floors when
// asked, and returns the report.
func Run(ctx context.Context, d *Deployment, o Options) (*Report, error) {
	o.defaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	rep := &Report{Started: o.Now(), RunID: o.RunID, Target: d.Describe, Model: o.model(), Rate: o.Rate,
		Concurrency: o.Concurrency, Unsatisfied: o.Unsatisfied, Seed: o.Seed}
	if o.ReferenceOnly {
		rep.Model = "reference floors only, each its own closed model"
		if err := runReferenceFloors(ctx, d, o, rep); err != nil {
			return nil, err
		}
		return rep, nil
	}
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
	if o.Floor || o.FloorOnly {
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
	}
	if o.ReferenceFloors {
		if err := runReferenceFloors(ctx, d, o, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// runReferenceFloors runs each reference floor in turn and puts the loop's
// and the floor's throughput over theirs.
func runReferenceFloors(ctx context.Context, d *Deployment, o Options, rep *Report) error {
	for _, name := range ReferenceFloors {
		r, err := RunReferenceFloor(ctx, d, o, name, FloorOptions{})
		if err != nil {
			return err
		}
		rep.ReferenceFloors = append(rep.ReferenceFloors, r)
	}
	rep.ReferenceRatios = referenceRatios(rep)
	return nil
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
