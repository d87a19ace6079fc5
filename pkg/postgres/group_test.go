package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/eventually"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// TestGroupCommitSharesTransactionsAndFailsOnlyTheFailingCall: calls queued
// while every group is busy commit together in a shared transaction; a call
// that fails leaves nothing and gets its own error, the others commit; each
// committed call's AfterCommit hook runs once, a failed one's never.
func TestGroupCommitSharesTransactionsAndFailsOnlyTheFailingCall(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "grouptest", nil)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE calls (n int PRIMARY KEY, tx xid8 NOT NULL DEFAULT pg_current_xact_id())`); err != nil {
		t.Fatal(err)
	}
	const blockers, queued = 4, 40
	failing := map[int]bool{blockers + 5: true, blockers + 20: true}
	var hooks [blockers + queued]atomic.Int32
	release := make(chan struct{})
	started := make(chan int)
	call := func(n int) error {
		return db.InGroupTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO calls (n) VALUES ($1)`, n); err != nil {
				return err
			}
			postgres.AfterCommit(ctx, func() { hooks[n].Add(1) })
			if n < blockers {
				started <- n
				<-release
			}
			if failing[n] {
				return fmt.Errorf("call %d refused", n)
			}
			return nil
		})
	}
	errs := make([]error, blockers+queued)
	var wg sync.WaitGroup
	for n := range blockers { // one at a time, so that each holds a group of its own
		wg.Add(1)
		go func() { defer wg.Done(); errs[n] = call(n) }()
		<-started
	}
	// every group is busy: what comes now queues
	for n := blockers; n < blockers+queued; n++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs[n] = call(n) }()
	}
	eventually.True(t, fmt.Sprintf("%d calls queued", queued), func() bool { return postgres.GroupQueued(db) == queued })
	close(release)
	wg.Wait()
	for n, err := range errs {
		if want := failing[n]; want != (err != nil) || (want && err.Error() != fmt.Sprintf("call %d refused", n)) {
			t.Errorf("call %d: %v", n, err)
		}
		if want := int32(1); failing[n] {
			want = 0
			if hooks[n].Load() != want {
				t.Errorf("call %d's hook ran %d times; want %d", n, hooks[n].Load(), want)
			}
		} else if hooks[n].Load() != want {
			t.Errorf("call %d's hook ran %d times; want %d", n, hooks[n].Load(), want)
		}
	}
	var rows, txs int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT tx) FROM calls WHERE n >= $1`, blockers).Scan(&rows, &txs); err != nil {
		t.Fatal(err)
	}
	if rows != queued-len(failing) || txs > blockers {
		t.Errorf("%d queued calls committed in %d transactions; want %d in at most %d", rows, txs, queued-len(failing), blockers)
	}
	var bad int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM calls WHERE n = ANY($1)`, []int{blockers + 5, blockers + 20}).Scan(&bad)
	if bad != 0 {
		t.Errorf("%d rows of failed calls committed", bad)
	}
}

// BenchmarkGroupCommit measures 32 callers each committing a one-row
// insert: sharing transactions (InGroupTx) against one transaction each
// (InTx), against PostgreSQL with fsync on.
func BenchmarkGroupCommit(b *testing.B) {
	for _, tc := range []struct {
		name  string
		group bool
	}{{"group", true}, {"alone", false}} {
		b.Run(tc.name, func(b *testing.B) {
			db := pgtest.Open(b, "groupbench", nil)
			ctx := context.Background()
			if _, err := db.Pool.Exec(ctx, `CREATE TABLE calls (n bigint)`); err != nil {
				b.Fatal(err)
			}
			run := db.InTx
			if tc.group {
				run = db.InGroupTx
			}
			b.SetParallelism(16) // 32 callers on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := run(ctx, func(ctx context.Context, tx pgx.Tx) error {
						_, err := tx.Exec(ctx, `INSERT INTO calls VALUES (1)`)
						return err
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
