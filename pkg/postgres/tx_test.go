package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

type noteKey struct{}

// TestDeferredWorkRunsOnceBeforeCommit: work deferred in a transaction runs
// once, just before the commit, with every item in the order added — minus
// those added in a savepoint that was rolled back — and not at all when the
// transaction rolls back; a failing flush rolls the transaction back.
func TestDeferredWorkRunsOnceBeforeCommit(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "txtest", nil)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE notes (n text)`); err != nil {
		t.Fatal(err)
	}
	var flushes [][]string
	flush := func(ctx context.Context, tx pgx.Tx, items []string) error {
		flushes = append(flushes, slices.Clone(items))
		for _, it := range items {
			if it == "bad" {
				return errors.New("flush failed")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO notes VALUES ($1)`, it); err != nil {
				return err
			}
		}
		return nil
	}
	var after []string
	err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		add := func(ctx context.Context, tx pgx.Tx, s string) error {
			postgres.AfterCommit(ctx, func() { after = append(after, s) })
			return postgres.Defer(ctx, tx, noteKey{}, s, flush)
		}
		if err := add(ctx, tx, "a"); err != nil {
			return err
		}
		_ = db.InSavepoint(ctx, func(ctx context.Context, tx pgx.Tx) error {
			_ = add(ctx, tx, "dropped")
			return errors.New("this savepoint is rolled back")
		})
		if err := db.InSavepoint(ctx, func(ctx context.Context, tx pgx.Tx) error { return add(ctx, tx, "b") }); err != nil {
			return err
		}
		if len(flushes) != 0 {
			t.Errorf("deferred work ran before the end of the transaction: %v", flushes)
		}
		return add(ctx, tx, "c")
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(flushes) != 1 || !slices.Equal(flushes[0], []string{"a", "b", "c"}) {
		t.Errorf("flushes %v; want one of a, b, c", flushes)
	}
	if !slices.Equal(after, []string{"a", "b", "c"}) {
		t.Errorf("after commit: %v; want a, b, c", after)
	}
	notes := func() (n int) {
		_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&n)
		return n
	}
	if n := notes(); n != 3 {
		t.Errorf("%d notes written; want 3", n)
	}

	flushes, after = nil, nil
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_ = postgres.Defer(ctx, tx, noteKey{}, "d", flush)
		return errors.New("rolled back")
	})
	if err == nil || len(flushes) != 0 {
		t.Errorf("a rolled-back transaction: err %v, flushes %v; want its error and no flush", err, flushes)
	}
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		postgres.AfterCommit(ctx, func() { after = append(after, "never") })
		if _, err := tx.Exec(ctx, `INSERT INTO notes VALUES ('e')`); err != nil {
			return err
		}
		_ = postgres.Defer(ctx, tx, noteKey{}, "bad", flush)
		return nil
	})
	if err == nil || len(after) != 0 || notes() != 3 {
		t.Errorf("a failing flush: err %v, after-commit hooks %v, %d notes; want its error, no hook, 3 notes", err, after, notes())
	}
}
