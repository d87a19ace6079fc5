package stack_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/services/dispatch"
	"github.com/whistle-civic/whistle/services/evaluation"
	"github.com/whistle-civic/whistle/services/intake"
	"github.com/whistle-civic/whistle/services/monitoring"
	"github.com/whistle-civic/whistle/services/response"

	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// migrations are the services' own migrations, by service.
var migrations = map[string]func() fs.FS{
	intake.Name:     intake.Migrations,
	dispatch.Name:   dispatch.Migrations,
	response.Name:   response.Migrations,
	evaluation.Name: evaluation.Migrations,
	monitoring.Name: monitoring.Migrations,
}

// TestMigrationsWhenReplicasStartAtOnce starts eight replicas of the whole
// stack at the same moment on a fresh database; each migrates the five
// services' schemas in the order a stack starts them, each with a pool of its
// own. Every replica must succeed, and every schema must hold each of its
// migrations exactly once and be the schema a lone replica makes.
func TestMigrationsWhenReplicasStartAtOnce(t *testing.T) {
	for _, name := range stack.Names {
		if migrations[name] == nil {
			t.Fatalf("the test does not know %s's migrations", name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const replicas = 8
	dbURL := pgtest.NewDatabase(t)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := range replicas {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			errs[i] = migrateStack(ctx, dbURL)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}

	ref := pgtest.NewDatabase(t)
	if err := migrateStack(ctx, ref); err != nil {
		t.Fatal(err)
	}
	got, want := connectTo(t, dbURL), connectTo(t, ref)
	for _, name := range stack.Names {
		for _, table := range []string{"whistle_platform_version", "goose_db_version"} {
			applied := appliedVersions(t, got, name+"."+table)
			if lone := appliedVersions(t, want, name+"."+table); !slices.Equal(applied, lone) {
				t.Errorf("%s.%s records versions×times %v, a lone replica %v", name, table, applied, lone)
			}
			for _, v := range applied {
				if v.times != 1 {
					t.Errorf("%s.%s: migration %d applied %d times", name, table, v.version, v.times)
				}
			}
		}
		files, err := fs.Glob(migrations[name](), "*.sql")
		if err != nil || len(files) == 0 || len(appliedVersions(t, got, name+".goose_db_version")) != len(files) {
			t.Errorf("%s: %d migration files, %d applied (%v)", name, len(files), len(appliedVersions(t, got, name+".goose_db_version")), err)
		}
		if g, w := schemaOf(t, got, name), schemaOf(t, want, name); len(w) == 0 || !slices.Equal(g, w) {
			t.Errorf("schema %s after %d replicas started at once differs from a lone replica's:\n got %v\nwant %v", name, replicas, g, w)
		}
	}
}

// migrateStack migrates the five schemas one after another, as a stack
// starting does, each with a pool of its own (two connections: Migrate's lock
// and goose's).
func migrateStack(ctx context.Context, dbURL string) error {
	for _, name := range stack.Names {
		db, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: name, MaxConns: 2, ConnectWait: 5 * time.Second})
		if err != nil {
			return err
		}
		err = postgres.Migrate(ctx, db, migrations[name](), nil)
		db.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func connectTo(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

type applied struct{ version, times int64 }

// appliedVersions reads a goose version table: each version applied, and how often.
func appliedVersions(t *testing.T, conn *pgx.Conn, table string) []applied {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT version_id, count(*) FROM `+table+`
		WHERE version_id > 0 AND is_applied GROUP BY version_id ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (applied, error) {
		var a applied
		return a, r.Scan(&a.version, &a.times)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// schemaOf lists what a schema holds: columns, indexes, constraints, triggers
// and functions, one line each, sorted.
func schemaOf(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT format('column %s.%s %s null=%s default=%s', table_name, column_name, data_type, is_nullable, coalesce(column_default, '-'))
		FROM information_schema.columns WHERE table_schema = $1
		UNION ALL
		SELECT format('index %s %s', indexname, indexdef) FROM pg_indexes WHERE schemaname = $1
		UNION ALL
		SELECT format('constraint %s %s', c.conname, pg_get_constraintdef(c.oid))
		FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1
		UNION ALL
		SELECT format('trigger %s.%s %s', r.relname, g.tgname, pg_get_triggerdef(g.oid))
		FROM pg_trigger g JOIN pg_class r ON r.oid = g.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
		WHERE n.nspname = $1 AND NOT g.tgisinternal
		UNION ALL
		SELECT format('function %s %s', p.proname, md5(p.prosrc))
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
		ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
