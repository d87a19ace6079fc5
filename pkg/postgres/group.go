package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Group commit: concurrent calls that each need a transaction of their own
// (a service's mutating RPCs) share one, so that N calls arriving together
// cost one commit rather than N. Nothing waits for company: a call that
// arrives while fewer than groupWorkers groups run starts one at once, alone
// if need be; calls that arrive while all are busy queue, and the next group
// takes up to groupMax of them.
const (
	groupWorkers = 4
	groupMax     = 64
)

// groupCall is one call waiting for, or running in, a group.
type groupCall struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx pgx.Tx) error
	done chan error
}

// group queues the calls of InGroupTx.
type group struct {
	mu      sync.Mutex
	queue   []*groupCall
	running int
}

// errGroupCallFailed rolls back a group in which a call failed.
var errGroupCallFailed = errors.New("a call of the group failed")

// InGroupTx runs fn in a transaction as InTx does, which it may share with
// other calls of InGroupTx running at the same time (group commit): fn's
// work commits with theirs, and each one's AfterCommit hooks run once that
// commit is done. A failing fn fails only its own call: the group is rolled
// back and run again with a savepoint for each call, so the failing one's
// work alone is undone and the others commit. fn may therefore run twice and
// must keep no effect outside the transaction from a run that it did not
// return from (its own variables are fine). If the commit itself fails,
// every call of the group returns that error. Inside a transaction (ctx
// carries one) fn simply joins it, as with InTx.
func (db *DB) InGroupTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return fn(ctx, tx)
	}
	c := &groupCall{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g := db.groupOf()
	g.mu.Lock()
	g.queue = append(g.queue, c)
	start := g.running < groupWorkers
	if start {
		g.running++
	}
	g.mu.Unlock()
	if start {
		go g.drain(db)
	}
	return <-c.done // not on ctx's end: fn may be running in the group's transaction
}

func (db *DB) groupOf() *group {
	db.groupOnce.Do(func() { db.group = &group{} })
	return db.group
}

// drain runs groups of queued calls until the queue is empty.
func (g *group) drain(db *DB) {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		n := min(len(g.queue), groupMax)
		calls := make([]*groupCall, n)
		copy(calls, g.queue)
		g.queue = g.queue[n:]
		g.mu.Unlock()
		db.runGroup(calls)
	}
}

// runGroup runs calls in one transaction: straight first, then, should one
// of them fail, again with a savepoint each.
func (db *DB) runGroup(calls []*groupCall) {
	live := calls[:0]
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.done <- err
			continue
		}
		live = append(live, c)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- db.InTx(live[0].ctx, live[0].fn)
		return
	}
	ctx := context.WithoutCancel(live[0].ctx)
	err := db.InTx(ctx, func(txctx context.Context, tx pgx.Tx) error {
		for _, c := range live {
			if err := c.fn(WithTxOf(c.ctx, txctx), tx); err != nil {
				return errGroupCallFailed
			}
		}
		return nil
	})
	if !errors.Is(err, errGroupCallFailed) {
		for _, c := range live {
			c.done <- groupErr(err, len(live))
		}
		return
	}
	errs := make([]error, len(live))
	err = db.InTx(ctx, func(txctx context.Context, _ pgx.Tx) error {
		for i, c := range live {
			errs[i] = db.InSavepoint(WithTxOf(c.ctx, txctx), c.fn)
		}
		return nil
	})
	for i, c := range live {
		if errs[i] == nil {
			errs[i] = groupErr(err, len(live))
		}
		c.done <- errs[i]
	}
}

// groupErr is a group's error (nil when it committed) as each of its calls
// sees it.
func groupErr(err error, n int) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("a transaction shared by %d calls: %w", n, err)
}
