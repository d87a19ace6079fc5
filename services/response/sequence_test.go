package response_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/response"
)

func changeLog(t *testing.T) (response.ChangeLog, func(ctx context.Context, fn func(ctx context.Context) error) error) {
	t.Helper()
	deps := platformtest.Deps(t, response.Name, response.Migrations(), nil, nil)
	inTx := func(ctx context.Context, fn func(ctx context.Context) error) error {
		return deps.DB.InTx(ctx, func(ctx context.Context, _ pgx.Tx) error { return fn(ctx) })
	}
	return response.ChangeLogOf(response.New(deps)), inTx
}

// cursors lists a department's change cursors and tickets in order.
func cursors(t *testing.T, cl response.ChangeLog, dept string) []int64 {
	t.Helper()
	cs, err := cl.Changes(context.Background(), dept)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, c := range cs {
		out = append(out, c.Cursor)
	}
	return out
}

// TestChangesAreNumberedInCommitOrder: a change to a department's inbox does
// not wait for another transaction changing the same inbox, and changes are
// numbered only once committed, so a change written first but committed last
// is numbered after the others: a reader at cursor n has seen all before n.
func TestChangesAreNumberedInCommitOrder(t *testing.T) {
	t.Parallel()
	cl, inTx := changeLog(t)
	ctx := context.Background()
	written, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- inTx(ctx, func(ctx context.Context) error {
			if err := cl.Write(ctx, "dept-x", ids.New()); err != nil {
				return err
			}
			close(written)
			<-release
			return nil
		})
	}()
	<-written
	quick, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Write(quick, "dept-x", ids.New()); err != nil {
		t.Fatalf("a second change to the inbox waited for the first transaction: %v", err)
	}
	if _, _, err := cl.Sequence(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cursors(t, cl, "dept-x"); fmt.Sprint(got) != "[1]" {
		t.Fatalf("with the first change uncommitted, cursors %v; want [1]", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, depts, err := cl.Sequence(ctx); err != nil || n != 1 || fmt.Sprint(depts) != "[dept-x]" {
		t.Fatalf("numbered %d of %v (%v); want 1 of [dept-x]", n, depts, err)
	}
	if got := cursors(t, cl, "dept-x"); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("cursors %v; want [1 2]", got)
	}
}

// TestConcurrentChangesGetContiguousNumbers: many writers on a few
// departments with sequencers running all along end with every change
// numbered once, each department's numbers 1..n without a gap.
func TestConcurrentChangesGetContiguousNumbers(t *testing.T) {
	t.Parallel()
	cl, _ := changeLog(t)
	ctx := context.Background()
	depts := []string{"dept-a", "dept-b", "dept-c"}
	const writers, each = 12, 10
	var wg sync.WaitGroup
	stop := make(chan struct{})
	seqDone := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					seqDone <- nil
					return
				default:
				}
				if _, _, err := cl.Sequence(ctx); err != nil {
					seqDone <- err
					return
				}
			}
		}()
	}
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := cl.Write(ctx, depts[(w+i)%len(depts)], ids.New()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	for range 2 {
		if err := <-seqDone; err != nil {
			t.Fatal(err)
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for {
		n, _, err := cl.Sequence(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	total := 0
	for _, d := range depts {
		got := cursors(t, cl, d)
		for i, c := range got {
			if c != int64(i+1) {
				t.Fatalf("%s: cursors %v are not 1..%d", d, got, len(got))
			}
		}
		total += len(got)
	}
	if total != writers*each {
		t.Fatalf("%d changes numbered; want %d", total, writers*each)
	}
}
