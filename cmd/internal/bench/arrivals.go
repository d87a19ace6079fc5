package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lateAfter is how far behind its time an arrival may start before it counts
// as late: the generator itself fell behind (a starved machine), and the
// load offered was less than asked.
const lateAfter = 10 * time.Millisecond

// arrivals starts tickets and keeps count.
type arrivals struct {
	started, late atomic.Int64
	maxLag        atomic.Int64 // nanoseconds
	wg            sync.WaitGroup
}

// run starts tickets for d, then returns; wait holds until every started
// ticket's function returned. With rate > 0 (an open model) arrival i is due
// at i/rate seconds and starts in its own goroutine, whatever the tickets
// before it are doing; with rate 0 (a closed model) concurrency reporters
// each start a ticket, wait for it to end, and start the next.
func (a *arrivals) run(ctx context.Context, rate float64, concurrency int, d time.Duration, ticket func(i int)) {
	if rate > 0 {
		a.open(ctx, rate, d, ticket)
		return
	}
	a.closed(ctx, concurrency, d, ticket)
}

func (a *arrivals) open(ctx context.Context, rate float64, d time.Duration, ticket func(i int)) {
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		due := time.Duration(float64(i) / rate * float64(time.Second))
		if due >= d {
			return
		}
		if wait := time.Until(start.Add(due)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		a.note(time.Since(start.Add(due)))
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			ticket(i)
		}()
	}
}

func (a *arrivals) closed(ctx context.Context, concurrency int, d time.Duration, ticket func(i int)) {
	end := time.Now().Add(d)
	var next atomic.Int64
	for range concurrency {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for ctx.Err() == nil && time.Now().Before(end) {
				a.note(0)
				ticket(int(next.Add(1) - 1))
			}
		}()
	}
}

// note counts an arrival that started lag after its time.
func (a *arrivals) note(lag time.Duration) {
	a.started.Add(1)
	if lag > lateAfter {
		a.late.Add(1)
	}
	for {
		old := a.maxLag.Load()
		if int64(lag) <= old || a.maxLag.CompareAndSwap(old, int64(lag)) {
			return
		}
	}
}

// wait holds until every started ticket's function returned.
func (a *arrivals) wait() { a.wg.Wait() }
