// Package platformtest builds a service's dependencies for a test: a freshly
// migrated database of its own, a JetStream of its own (see natstest), a
// logger that writes to the test log, and a clock.
package platformtest

import (
	"context"
	"io/fs"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/orgtree"
	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
)

// Deps returns dependencies for the service with this schema and migrations,
// on a new database and the test's JetStream env (nil: a new one).
func Deps(tb testing.TB, schema string, migrations fs.FS, env *natstest.Env, clk clock.Clock) platform.Deps {
	tb.Helper()
	if env == nil {
		env = natstest.New(tb)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	db := pgtest.Open(tb, schema, migrations)
	return platform.Deps{
		DB:        db,
		Bus:       env.Connect(tb, "test-"+schema),
		Telemetry: telemetry.Noop(),
		Log:       Logger(tb),
		Clock:     clk,
		OrgTree:   orgtree.New(db),
	}
}

// Logger returns a logger that writes warnings and errors to the test's log
// (and nothing once the test has ended).
func Logger(tb testing.TB) *slog.Logger {
	w := &testWriter{tb: tb}
	tb.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	tb   testing.TB
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.tb.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// Outbox returns the events a service has written to its outbox, oldest
// first, leaving out dispatch's org tree announcements (they concern no ticket).
func Outbox(tb testing.TB, db *postgres.DB) []*whistlev1.Event {
	tb.Helper()
	rows, err := db.Pool.Query(context.Background(), "SELECT payload FROM outbox ORDER BY id")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []*whistlev1.Event
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			tb.Fatal(err)
		}
		ev, err := events.Decode(b)
		if err != nil {
			tb.Fatal(err)
		}
		if events.TypeOf(ev) != events.OrgTree {
			out = append(out, ev)
		}
	}
	return out
}
