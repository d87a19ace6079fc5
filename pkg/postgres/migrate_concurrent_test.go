package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/pgtest"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// replicas is how many replicas of a service start at the same moment.
const replicas = 8

// serviceMigrations stand for a service's own: tables, a function and its
// trigger (a multi-statement migration), and a migration that writes a row,
// so that one applied twice leaves two rows behind. The first one holds its
// transaction for a moment, so that replicas that did not wait for it would
// run into it.
var serviceMigrations = fstest.MapFS{
	"00001_things.sql": {Data: []byte(`-- +goose Up
CREATE TABLE things (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE, touched timestamptz);
CREATE TABLE applied (migration int NOT NULL);
SELECT pg_sleep(0.2);
-- +goose Down
DROP TABLE applied;
DROP TABLE things;
`)},
	"00002_touch.sql": {Data: []byte(`-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.touched := now();
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER things_touch BEFORE INSERT OR UPDATE ON things FOR EACH ROW EXECUTE FUNCTION touch();
CREATE INDEX things_touched_idx ON things (touched);
-- +goose Down
DROP TRIGGER things_touch ON things;
DROP FUNCTION touch();
`)},
	"00003_seed.sql": {Data: []byte(`-- +goose Up
INSERT INTO applied (migration) VALUES (3);
-- +goose Down
DELETE FROM applied WHERE migration = 3;
`)},
}

// TestMigrateWhenReplicasStartAtOnce starts eight replicas of a service at
// the same moment on a fresh database, each with its own pool as separate
// processes would have: every one must succeed, every migration must be
// applied exactly once, and the schema must be the one a lone replica makes.
func TestMigrateWhenReplicasStartAtOnce(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const schema = "svc"
	for i, err := range migrateAtOnce(t, openReplicas(t, url, replicas, schema), serviceMigrations) {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	conn := connect(t, url)
	checkAppliedOnce(t, conn, schema+".whistle_platform_version", postgres.PlatformMigrations())
	checkAppliedOnce(t, conn, schema+".goose_db_version", serviceMigrations)
	var rows int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM svc.applied`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("the seeding migration left %d rows (%v), want 1", rows, err)
	}

	ref := pgtest.NewDatabase(t)
	if errs := migrateAtOnce(t, openReplicas(t, ref, 1, schema), serviceMigrations); errs[0] != nil {
		t.Fatal(errs[0])
	}
	want, got := describe(t, connect(t, ref), schema), describe(t, conn, schema)
	for _, part := range []string{"column svc.outbox.event_id", "column svc.things.name", "function svc.touch",
		"trigger svc.things.things_touch", "index svc.things_touched_idx", "constraint svc.inbox_pkey"} {
		if !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, part) }) {
			t.Fatalf("a lone replica's schema lacks %q: %v", part, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("schema after %d replicas started at once differs from a lone replica's:\n got %v\nwant %v", replicas, got, want)
	}
}

// TestMigrateManySchemasAtOnce starts eight replicas of each of three
// services at the same moment, all in one database: the services' migrations
// run side by side, each schema's exactly once.
func TestMigrateManySchemasAtOnce(t *testing.T) {
	url := pgtest.NewDatabase(t)
	schemas := []string{"one", "two", "three"}
	var dbs []*postgres.DB
	for _, s := range schemas {
		dbs = append(dbs, openReplicas(t, url, replicas, s)...)
	}
	for i, err := range migrateAtOnce(t, dbs, serviceMigrations) {
		if err != nil {
			t.Errorf("%s replica %d: %v", dbs[i].Schema, i%replicas, err)
		}
	}
	conn := connect(t, url)
	for _, s := range schemas {
		checkAppliedOnce(t, conn, s+".whistle_platform_version", postgres.PlatformMigrations())
		checkAppliedOnce(t, conn, s+".goose_db_version", serviceMigrations)
	}
}

// openReplicas opens n pools on schema, one per replica, closed when the
// test ends. Each has the two connections Migrate needs (one holds the lock,
// goose uses the other) and no more, so that many fit in the server.
func openReplicas(t *testing.T, url string, n int, schema string) []*postgres.DB {
	t.Helper()
	dbs := make([]*postgres.DB, n)
	for i := range dbs {
		db, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema, MaxConns: 2, ConnectWait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		dbs[i] = db
	}
	return dbs
}

// migrateAtOnce has every pool run Migrate at the same moment (each waits at
// a barrier until all are ready) and returns each one's error.
func migrateAtOnce(t *testing.T, dbs []*postgres.DB, fsys fs.FS) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, len(dbs))
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i, db := range dbs {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			errs[i] = postgres.Migrate(ctx, db, fsys, nil)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// checkAppliedOnce asserts that goose's version table records every migration
// of fsys as applied exactly once, and nothing else.
func checkAppliedOnce(t *testing.T, conn *pgx.Conn, table string, fsys fs.FS) {
	t.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations in %v: %v", fsys, err)
	}
	var want []string
	for _, name := range names {
		v, err := strconv.ParseInt(strings.SplitN(name, "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		want = append(want, fmt.Sprintf("%d×1", v))
	}
	slices.Sort(want)
	rows, err := conn.Query(context.Background(), `SELECT version_id, count(*) FROM `+table+`
		WHERE version_id > 0 AND is_applied GROUP BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var v, n int64
		err := r.Scan(&v, &n)
		return fmt.Sprintf("%d×%d", v, n), err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s records versions×times %v, want %v", table, got, want)
	}
}

// describe lists what schema holds: columns, indexes, constraints, triggers
// and functions, one line each, sorted.
func describe(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
		SELECT format('column %s.%s.%s %s null=%s default=%s', table_schema, table_name, column_name, data_type,
			is_nullable, coalesce(column_default, '-'))
		FROM information_schema.columns WHERE table_schema = $1
		UNION ALL
		SELECT format('index %s.%s %s', schemaname, indexname, indexdef) FROM pg_indexes WHERE schemaname = $1
		UNION ALL
		SELECT format('constraint %s.%s %s', n.nspname, c.conname, pg_get_constraintdef(c.oid))
		FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1
		UNION ALL
		SELECT format('trigger %s.%s.%s %s', n.nspname, r.relname, g.tgname, pg_get_triggerdef(g.oid))
		FROM pg_trigger g JOIN pg_class r ON r.oid = g.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
		WHERE n.nspname = $1 AND NOT g.tgisinternal
		UNION ALL
		SELECT format('function %s.%s %s', n.nspname, p.proname, md5(p.prosrc))
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

// TestMigrateWithAPoolOfOne: the migration lock is held outside the pool, so
// a service configured with a single connection still migrates.
func TestMigrateWithAPoolOfOne(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: "one", MaxConns: 1, ConnectWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := postgres.Migrate(ctx, db, serviceMigrations, nil); err != nil {
		t.Fatalf("migrate with one pooled connection: %v", err)
	}
	checkAppliedOnce(t, connect(t, url), "one.goose_db_version", serviceMigrations)
}
