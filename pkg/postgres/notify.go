package postgres

import (
	"context"
	"sync"
	"time"
)

// Why notifications go out after the commit: a transaction that issues
// NOTIFY takes a database-wide lock at commit and holds it until its commit
// record is on disk, so such transactions commit one after another, each
// paying for its own flush. Sent after the commit, in a statement that writes
// nothing, a notification takes that lock only for a moment, and the
// changes themselves commit (and flush) together with others. Listeners lose
// nothing by it: a notification never was a promise (one sent while a
// listener reconnects is lost either way), and every listener also polls.

// notice is one notification to send.
type notice struct{ channel, payload string }

// notifier sends notifications for committed transactions, coalescing
// duplicates, from one goroutine per pool.
type notifier struct {
	once    sync.Once
	mu      sync.Mutex
	pending map[notice]bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newNotifier() *notifier {
	return &notifier{pending: map[notice]bool{}, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{})}
}

// add queues notices to be sent soon.
func (n *notifier) add(ns []notice) {
	n.mu.Lock()
	for _, x := range ns {
		n.pending[x] = true
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// run sends what is pending whenever woken, until close; failures are
// dropped (listeners poll).
func (n *notifier) run(db *DB) {
	defer close(n.done)
	for {
		select {
		case <-n.stop:
			n.flush(db) // what committed before the pool closes still goes out
			return
		case <-n.wake:
			n.flush(db)
		}
	}
}

func (n *notifier) flush(db *DB) {
	n.mu.Lock()
	pending := make([]notice, 0, len(n.pending))
	for x := range n.pending {
		pending = append(pending, x)
	}
	clear(n.pending)
	n.mu.Unlock()
	send(db, pending)
}

// send issues the notices in one statement, outside any transaction;
// failures are dropped (listeners poll).
func send(db *DB, ns []notice) {
	if len(ns) == 0 {
		return
	}
	channels, payloads := make([]string, len(ns)), make([]string, len(ns))
	for i, x := range ns {
		channels[i], payloads[i] = x.channel, x.payload
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = db.Pool.Exec(ctx, `SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n(c, p)`, channels, payloads)
}

func (n *notifier) close() {
	n.once.Do(func() { close(n.stop) })
	<-n.done
}

// notify sends notices of a committed transaction: soon, from the notifier,
// or at once for a DB made without Open.
func (db *DB) notify(ns []notice) {
	if db.notifier != nil {
		db.notifier.add(ns)
		return
	}
	send(db, ns)
}

// Notify has NOTIFY channel, payload sent once the transaction ctx carries
// has committed (never if it rolls back, or if the savepoint it was
// registered in is rolled back), outside that transaction; identical
// notifications of transactions committing close together go out once. Out
// of a transaction begun by InTx it notifies at once through q.
func Notify(ctx context.Context, q Querier, channel, payload string) error {
	if st := stateOf(ctx); st != nil {
		st.notices = append(st.notices, notice{channel, payload})
		return nil
	}
	_, err := q.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
	return err
}

// SchemaOf returns the schema of the database whose transaction ctx
// carries ("" when none, or when begun elsewhere than InTx).
func SchemaOf(ctx context.Context) string {
	if st := stateOf(ctx); st != nil && st.db != nil {
		return st.db.Schema
	}
	return ""
}
