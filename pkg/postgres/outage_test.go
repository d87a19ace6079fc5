package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"

	"github.com/whistle-civic/whistle/pkg/apperr"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/pgserver"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// privateServer starts a PostgreSQL of the test's own in dir, which the test
// may stop and start again.
func privateServer(t *testing.T, dir string) *pgserver.Server {
	t.Helper()
	srv, err := pgserver.Start(context.Background(), pgserver.Options{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// stopServer stops srv (a fast shutdown: open sessions are ended).
func stopServer(t *testing.T, srv *pgserver.Server) {
	t.Helper()
	if err := srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDatabaseOutage stops the database under an open pool in the middle of
// a use case's transaction: the transaction leaves nothing behind, calls made
// while the server is down fail fast with an error the API answers as
// Unavailable with a message saying to retry, and when the server is back (same
// data folder) the same pool serves again without being reopened.
func TestDatabaseOutage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pg")
	srv := privateServer(t, dir)
	running := true
	t.Cleanup(func() {
		if running {
			_ = srv.Stop(context.Background())
		}
	})
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: srv.URL("postgres"), Schema: "outage", ConnectWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := postgres.Migrate(ctx, db, nil, nil); err != nil { // the schema and the platform tables (outbox, …)
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE reports (id int PRIMARY KEY, title text NOT NULL)`); err != nil {
		t.Fatal(err)
	}

	// A use case writes its state, then the database goes away before it
	// writes its event and commits.
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO reports VALUES (1, 'pothole')`); err != nil {
			return err
		}
		stopServer(t, srv)
		running = false
		_, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, event_type, payload) VALUES (gen_random_uuid(), 'reported', '')`)
		return err
	})
	if err == nil {
		t.Fatal("the use case committed although the database went away in its middle")
	}
	if !postgres.IsUnavailable(err) {
		t.Fatalf("interrupted use case: %v (%T), want an error IsUnavailable recognises", err, err)
	}
	checkUnavailable(t, "interrupted use case", err)

	// While the server is down, calls fail fast, a query on the pool as well
	// as a new transaction.
	for _, call := range []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"query", func(ctx context.Context) error {
			var one int
			return db.Pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
		}},
		{"transaction", func(ctx context.Context) error {
			return db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO reports VALUES (2, 'litter')`)
				return err
			})
		}},
	} {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		start := time.Now()
		err := call.do(cctx)
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Fatalf("%s succeeded with the server stopped", call.name)
		}
		if took > 5*time.Second {
			t.Errorf("%s with the server stopped took %s; it must fail within a few seconds", call.name, took)
		}
		t.Logf("%s with the server stopped failed in %s: %v", call.name, took.Round(time.Microsecond), err)
		checkUnavailable(t, call.name, err)
	}

	// The server comes back on the same data folder; the same pool serves
	// again once it answers.
	srv = privateServer(t, dir)
	running = true
	start := time.Now()
	var n int
	poll(t, 30*time.Second, func() error {
		return db.Pool.QueryRow(ctx, `SELECT count(*) FROM reports`).Scan(&n)
	})
	t.Logf("the pool served again %s after the server accepted connections", time.Since(start).Round(time.Millisecond))
	if n != 0 {
		t.Fatalf("%d report rows after the interrupted use case, want none", n)
	}
	var events int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&events); err != nil || events != 0 {
		t.Fatalf("%d outbox rows after the interrupted use case (%v), want none", events, err)
	}
	if err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO reports VALUES (3, 'streetlight')`)
		return err
	}); err != nil {
		t.Fatalf("a transaction after the server came back: %v", err)
	}
}

// TestConnectionKilledMidTransaction ends a transaction's server session
// (as an administrator or a failover would): nothing is written, the error is
// Unavailable, and the pool's next call works.
func TestConnectionKilledMidTransaction(t *testing.T) {
	srv := privateServer(t, filepath.Join(t.TempDir(), "pg"))
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: srv.URL("postgres"), Schema: "killed", ConnectWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := postgres.Migrate(ctx, db, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE reports (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO reports VALUES (1)`); err != nil {
			return err
		}
		var pid int
		if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			return err
		}
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO reports VALUES (2)`)
		return err
	})
	if err == nil {
		t.Fatal("the transaction committed although its session was ended")
	}
	checkUnavailable(t, "killed session", err)
	var n int
	poll(t, 10*time.Second, func() error { return db.Pool.QueryRow(ctx, `SELECT count(*) FROM reports`).Scan(&n) })
	if n != 0 {
		t.Fatalf("%d rows after the killed transaction, want none", n)
	}
}

// checkUnavailable asserts that err is a connection-level failure the API
// answers with Unavailable and the message that says to retry.
func checkUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !postgres.IsUnavailable(err) {
		t.Fatalf("%s: IsUnavailable(%v) = false", what, err)
	}
	if k := apperr.KindOf(postgres.AsUnavailable(err)); k != apperr.Unavailable {
		t.Errorf("%s: AsUnavailable has kind %v, want Unavailable", what, k)
	}
	st := grpcserver.ToStatus(context.Background(), err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("%s: status %s %q, want Unavailable", what, st.Code(), st.Message())
	}
	msg := st.Message()
	if !strings.HasPrefix(msg, "the database is unavailable (") || !strings.HasSuffix(msg, "): retry in a moment; Whistle reconnects by itself") {
		t.Fatalf("%s: message %q", what, msg)
	}
	t.Logf("%s: %s %q", what, st.Code(), msg)
}

// poll calls f until it succeeds, failing the test after within.
func poll(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		if !postgres.IsUnavailable(err) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("while waiting for the database: %v, which is not Unavailable", err)
		}
		<-tick.C
	}
}
