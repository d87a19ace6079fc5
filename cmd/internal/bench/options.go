package bench

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Options shape a run.
type Options struct {
	// Rate is how many tickets a second the communities report (an open
	// model: each arrival starts on time whatever the others are doing);
	// 0 reports as fast as Concurrency allows (a closed model: each of
	// Concurrency reporters waits for its ticket to close before the next).
	Rate float64
	// Concurrency is the number of reporters when Rate is 0. Default 16.
	Concurrency int
	// Duration is how long tickets arrive; the measured window. Default 60 s.
	Duration time.Duration
	// Drain is how long, after Duration, tickets still in flight may take to
	// close before they count as stuck. Default 60 s.
	Drain time.Duration
	// Unsatisfied is the share of tickets judged unsatisfied once (then
	// satisfied after the rework), from 0 to 1.
	Unsatisfied float64
	// Seed makes the choice of matters, grids and verdicts repeatable.
	Seed uint64
	// RunID tags the run's tickets (idempotency keys, titles). Default: the time.
	RunID string
	// Floor also measures the floor after the loop (see floor.go); FloorOnly
	// measures only the floor, with FloorWork as the work per ticket.
	Floor, FloorOnly bool
	// ReferenceFloors also runs the reference floors (reference.go) after
	// the loop and its floor; ReferenceOnly runs only the reference floors.
	ReferenceFloors, ReferenceOnly bool
	// FloorDuration is how long floor tickets arrive, for every floor.
	// Default Duration.
	FloorDuration time.Duration
	// FloorWork is the floor's work per ticket when the loop does not run
	// (FloorOnly). Default DefaultFloorWork.
	FloorWork FloorWork
	// Progress receives a progress line while the run goes (nil: none);
	// Terminal rewrites one line in place instead of printing one a second.
	Progress io.Writer
	Terminal bool
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// DefaultFloorWork is the floor's work per ticket when no loop run measured
// it: the figures a run of the sample catalog measures (docs/performance.md).
var DefaultFloorWork = FloorWork{Commits: 29, Publishes: 7, Consumes: 18}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Duration <= 0 {
		o.Duration = time.Minute
	}
	if o.Drain <= 0 {
		o.Drain = time.Minute
	}
	if o.FloorDuration <= 0 {
		o.FloorDuration = o.Duration
	}
	if o.FloorWork == (FloorWork{}) {
		o.FloorWork = DefaultFloorWork
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RunID == "" {
		o.RunID = o.Now().UTC().Format("20060102T150405.000")
	}
}

// Validate says what is wrong with the options, in the flags' words.
func (o *Options) Validate() error {
	switch {
	case o.Rate < 0:
		return errors.New("--rate must be 0 (as fast as possible) or more tickets a second")
	case o.Unsatisfied < 0 || o.Unsatisfied > 1:
		return errors.New("--unsatisfied is a share, from 0 to 1")
	case o.Duration < 0 || o.Drain < 0 || o.FloorDuration < 0:
		return errors.New("--duration, --drain and --floor-duration must be positive")
	case o.FloorWork.Commits < 0 || o.FloorWork.Publishes < 0 || o.FloorWork.Consumes < 0:
		return errors.New("the floor's work per ticket cannot be negative")
	case o.FloorWork != (FloorWork{}) && o.FloorWork.Publishes == 0:
		return errors.New("the floor needs at least one publish per ticket")
	case o.ReferenceOnly && o.FloorOnly:
		return errors.New("--reference-only and --floor-only each run only their floors: pass one")
	}
	if len(o.RunID) > 40 {
		return fmt.Errorf("run id %q: at most 40 characters", o.RunID)
	}
	return nil
}

// model names the arrival model for the report.
func (o *Options) model() string {
	if o.Rate > 0 {
		return fmt.Sprintf("open model, %g tickets/s", o.Rate)
	}
	return fmt.Sprintf("closed model, %d reporters as fast as possible", o.Concurrency)
}
