package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

type txKey struct{}

type stateKey struct{}

// txState is what a transaction (or one savepoint of it) has registered to
// run around its commit.
type txState struct {
	db       *DB
	notices  []notice
	after    []func()
	keys     []any
	deferred map[any]*deferredWork
}

type deferredWork struct {
	items []any
	flush func(ctx context.Context, tx pgx.Tx, items []any) error
}

func stateOf(ctx context.Context) *txState {
	st, _ := ctx.Value(stateKey{}).(*txState)
	return st
}

// merge adds what a released savepoint registered to its parent.
func (st *txState) merge(child *txState) {
	st.after = append(st.after, child.after...)
	st.notices = append(st.notices, child.notices...)
	for _, k := range child.keys {
		w := child.deferred[k]
		st.add(k, w.flush, w.items...)
	}
}

func (st *txState) add(key any, flush func(context.Context, pgx.Tx, []any) error, items ...any) {
	if st.deferred == nil {
		st.deferred = map[any]*deferredWork{}
	}
	w, ok := st.deferred[key]
	if !ok {
		w = &deferredWork{flush: flush}
		st.deferred[key] = w
		st.keys = append(st.keys, key)
	}
	w.items = append(w.items, items...)
}

// beforeCommit runs the deferred work, key by key in the order first used.
func (st *txState) beforeCommit(ctx context.Context, tx pgx.Tx) error {
	for _, k := range st.keys {
		w := st.deferred[k]
		if err := w.flush(ctx, tx, w.items); err != nil {
			return err
		}
	}
	return nil
}

// AfterCommit registers fn to run once the transaction ctx carries has
// committed (never if it rolls back, or if the savepoint it was registered
// in is rolled back); outside a transaction fn runs at once. Use it to tell
// the world about a change only when the change is durable.
func AfterCommit(ctx context.Context, fn func()) {
	if st := stateOf(ctx); st != nil {
		st.after = append(st.after, fn)
		return
	}
	fn()
}

// Defer adds item to the list the transaction ctx carries keeps under key;
// just before that transaction commits, flush runs once with every item
// added under key, in the order they were added (items added in a savepoint
// that was rolled back are dropped). If flush fails, the transaction rolls
// back with its error. Outside a transaction flush runs at once with item.
//
// Use it for writes that take locks many transactions contend for, such as
// counters: taken last, in one statement, they are held only for the commit,
// and a flush that takes them in a fixed order cannot deadlock with another.
func Defer[T any](ctx context.Context, tx pgx.Tx, key any, item T, flush func(ctx context.Context, tx pgx.Tx, items []T) error) error {
	st := stateOf(ctx)
	if st == nil {
		return flush(ctx, tx, []T{item})
	}
	st.add(key, func(ctx context.Context, tx pgx.Tx, items []any) error {
		typed := make([]T, len(items))
		for i, it := range items {
			typed[i] = it.(T)
		}
		return flush(ctx, tx, typed)
	}, item)
	return nil
}

// InTx runs fn in a transaction. If ctx already carries a transaction begun by
// InTx, fn joins it (no savepoint): the outermost InTx commits or rolls back.
// So a use case that writes state and outbox rows stays one transaction even
// when an event consumer calls it inside the transaction that records the
// event in the inbox. fn's error, a deferred write's (Defer) or a commit
// error is returned as is.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return fn(ctx, tx)
	}
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", acquireFailed(err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	st := &txState{db: db}
	inner := context.WithValue(context.WithValue(ctx, txKey{}, tx), stateKey{}, st)
	if err := fn(inner, tx); err != nil {
		return err
	}
	if err := st.beforeCommit(inner, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if len(st.notices) > 0 {
		db.notify(st.notices)
	}
	for _, h := range st.after {
		h()
	}
	return nil
}

// InSavepoint runs fn inside the transaction ctx carries, behind a savepoint:
// if fn fails, only its own work is rolled back and the transaction goes on;
// what it registered with AfterCommit and Defer counts only if it succeeded.
// Without a transaction in ctx it is InTx. Consumers use it to apply a batch
// of events in one transaction, one savepoint per event.
func (db *DB) InSavepoint(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	outer, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return db.InTx(ctx, fn)
	}
	sp, err := outer.Begin(ctx)
	if err != nil {
		return fmt.Errorf("savepoint: %w", AsUnavailable(err))
	}
	child := &txState{db: db}
	inner := context.WithValue(context.WithValue(ctx, txKey{}, sp), stateKey{}, child)
	if err := fn(inner, sp); err != nil {
		_ = sp.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("release savepoint: %w", AsUnavailable(err))
	}
	if parent := stateOf(ctx); parent != nil {
		parent.merge(child)
	}
	return nil
}

// WithTxOf returns ctx carrying the transaction (and what runs around its
// commit) that from carries, so that work done in ctx (with ctx's deadline,
// values and trace span) joins that transaction. Without one in from, ctx is
// returned as it is.
func WithTxOf(ctx, from context.Context) context.Context {
	tx, ok := from.Value(txKey{}).(pgx.Tx)
	if !ok {
		return ctx
	}
	ctx = context.WithValue(ctx, txKey{}, tx)
	if st := stateOf(from); st != nil {
		ctx = context.WithValue(ctx, stateKey{}, st)
	}
	return ctx
}
